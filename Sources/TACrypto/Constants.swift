/// GP algorithm, object type, attribute and mode identifiers the framework dispatches on, with
/// OP-TEE's values (tee_api_defines.h and its extensions). Secure world, pure data.

/// GP algorithm identifiers (TEE_ALG_*).
public enum Alg {
    /// OP-TEE's values of aesECB, aesCBC, aesCTR.
    public static let aesECB: UInt32 = 0x1000_0010, aesCBC: UInt32 = 0x1000_0110, aesCTR: UInt32 = 0x1000_0210
    /// OP-TEE's values of aesCTS, aesXTS.
    public static let aesCTS: UInt32 = 0x1000_0310, aesXTS: UInt32 = 0x1000_0410
    /// OP-TEE's values of aesCBCMAC, aesCBCMACPKCS5, aesCMAC.
    public static let aesCBCMAC: UInt32 = 0x3000_0110, aesCBCMACPKCS5: UInt32 = 0x3000_0510, aesCMAC: UInt32 = 0x3000_0610
    /// OP-TEE's values of aesCCM, aesGCM.
    public static let aesCCM: UInt32 = 0x4000_0710, aesGCM: UInt32 = 0x4000_0810
    /// OP-TEE's values of md5, sha1, sha224.
    public static let md5: UInt32 = 0x5000_0001, sha1: UInt32 = 0x5000_0002, sha224: UInt32 = 0x5000_0003
    /// OP-TEE's values of sha256, sha384, sha512.
    public static let sha256: UInt32 = 0x5000_0004, sha384: UInt32 = 0x5000_0005, sha512: UInt32 = 0x5000_0006
    /// OP-TEE's values of hkdfBase, concatKDFBase, pbkdf2SHA1.
    public static let hkdfBase: UInt32 = 0x8000_00C0, concatKDFBase: UInt32 = 0x8000_00C1, pbkdf2SHA1: UInt32 = 0x8000_20C2
}

/// GP object types (TEE_TYPE_*).
public enum ObjType {
    /// OP-TEE's values of aes, des, des3.
    public static let aes: UInt32 = 0xA000_0010, des: UInt32 = 0xA000_0011, des3: UInt32 = 0xA000_0013
    /// OP-TEE's values of genericSecret, data.
    public static let genericSecret: UInt32 = 0xA000_0000, data: UInt32 = 0xA000_00BF
    /// OP-TEE's values of hkdfIKM, concatKDFZ, pbkdf2Password.
    public static let hkdfIKM: UInt32 = 0xA100_00C0, concatKDFZ: UInt32 = 0xA100_00C1, pbkdf2Password: UInt32 = 0xA100_00C2
    /// TEE_TYPE_HMAC_MD5 ... HMAC_SHA3_512 are 0xA0000001 ... 0xA000000B.
    public static func hmac(_ digestIndex: UInt32) -> UInt32 { 0xA000_0000 | digestIndex }
}

/// GP attribute identifiers (TEE_ATTR_*) and flags.
public enum Attr {
    /// OP-TEE's values of flagPublic, flagValue.
    public static let flagPublic: UInt32 = 1 << 28, flagValue: UInt32 = 1 << 29
    /// OP-TEE's values of secretValue.
    public static let secretValue: UInt32 = 0xC000_0000
    /// OP-TEE's values of hkdfIKM, hkdfSalt, hkdfInfo.
    public static let hkdfIKM: UInt32 = 0xC000_01C0, hkdfSalt: UInt32 = 0xD000_02C0, hkdfInfo: UInt32 = 0xD000_03C0
    /// OP-TEE's values of hkdfOKMLength.
    public static let hkdfOKMLength: UInt32 = 0xF000_04C0
    /// GP 1.3.1's ids for the same HKDF inputs (the dev kit's TEE_ATTR_HKDF_SALT / _INFO / TEE_ATTR_KDF_KEY_SIZE).
    public static let gpHKDFSalt: UInt32 = 0xD000_0946, gpHKDFInfo: UInt32 = 0xD000_0A46, gpKDFKeySize: UInt32 = 0xF000_0C46
    /// OP-TEE's values of concatZ, concatOtherInfo, concatDKMLength.
    public static let concatZ: UInt32 = 0xC000_01C1, concatOtherInfo: UInt32 = 0xD000_02C1, concatDKMLength: UInt32 = 0xF000_03C1
    /// OP-TEE's values of pbkdf2Password, pbkdf2Salt.
    public static let pbkdf2Password: UInt32 = 0xC000_01C2, pbkdf2Salt: UInt32 = 0xD000_02C2
    /// OP-TEE's values of pbkdf2Iterations, pbkdf2DKMLength.
    public static let pbkdf2Iterations: UInt32 = 0xF000_03C2, pbkdf2DKMLength: UInt32 = 0xF000_04C2
}

/// GP operation modes (TEE_MODE_*), classes (TEE_OPERATION_*), usages and handle flags.
public enum OpConst {
    /// OP-TEE's values of encrypt, decrypt, sign, verify.
    public static let encrypt: UInt32 = 0, decrypt: UInt32 = 1, sign: UInt32 = 2, verify: UInt32 = 3
    /// OP-TEE's values of mac, digest, derive.
    public static let mac: UInt32 = 4, digest: UInt32 = 5, derive: UInt32 = 6
    /// OP-TEE's values of classCipher, classMAC, classAE, classDigest.
    public static let classCipher: UInt32 = 1, classMAC: UInt32 = 3, classAE: UInt32 = 4, classDigest: UInt32 = 5
    /// OP-TEE's values of classAsymCipher, classAsymSignature, classKeyDerivation.
    public static let classAsymCipher: UInt32 = 6, classAsymSignature: UInt32 = 7, classKeyDerivation: UInt32 = 8
    /// OP-TEE's values of usageExtractable, usageEncrypt, usageDecrypt.
    public static let usageExtractable: UInt32 = 0x1, usageEncrypt: UInt32 = 0x2, usageDecrypt: UInt32 = 0x4
    /// OP-TEE's values of usageMAC, usageSign, usageVerify, usageDerive.
    public static let usageMAC: UInt32 = 0x8, usageSign: UInt32 = 0x10, usageVerify: UInt32 = 0x20, usageDerive: UInt32 = 0x40
    /// OP-TEE's values of flagInitialized, flagKeySet.
    public static let flagInitialized: UInt32 = 0x0002_0000, flagKeySet: UInt32 = 0x0004_0000
    /// OP-TEE's values of flagExpectTwoKeys.
    public static let flagExpectTwoKeys: UInt32 = 0x0008_0000
    /// OP-TEE's values of stateInitial, stateActive, stateExtracting.
    public static let stateInitial: UInt32 = 0, stateActive: UInt32 = 1, stateExtracting: UInt32 = 2
}
