/* libvteeta's GP arithmetical API (TEE_BigInt and fast modular multiplication), TA world.
 *
 * A TEE_BigInt is the caller's uint32_t array in OP-TEE's layout: a header of two words (int32
 * sign, uint16 allocated limbs, uint16 used limbs) followed by 32-bit limbs, least significant
 * first. This file does only the layout work itself (init, octet-string and s32 conversions,
 * comparisons, bit access, assign/abs/neg); every arithmetic operation is forwarded with its
 * operands to the secure world (requests VTEE_REQ_BIGINT_*, computed over attaswift/BigInt by
 * TACrypto), so no bignum arithmetic is written here. Misuse panics as OP-TEE's libutee does
 * (code 0xB16127): a result that does not fit its destination, a modulus below 2, division by
 * zero, an operand without inverse. The FMM functions work on plain TEE_BigInts modulo n, as
 * OP-TEE's do (the context carries nothing). */
#include "internal.h"

#include <string.h>

typedef uint32_t TEE_BigInt;
typedef uint32_t TEE_BigIntFMM;
typedef uint32_t TEE_BigIntFMMContext;

/* OP-TEE's header of a TEE_BigInt (two uint32_t). */
struct bigint_hdr { int32_t sign; uint16_t alloc_size; uint16_t nblimbs; };
#define HDR_U32 2u
/* The panic code libutee uses for every arithmetic misuse. */
#define BIGINT_PANIC 0xB16127u
/* gpd.tee.arith.maxBigIntSize (props.c); TEE_BigIntInit refuses more words than OP-TEE does. */
#define MAX_BIGINT_BITS 2048u
#define MAX_INIT_U32 (MAX_BIGINT_BITS / 4u)

_Static_assert(sizeof(struct bigint_hdr) == HDR_U32 * sizeof(uint32_t), "OP-TEE's bigint header is two words");

static struct bigint_hdr *hdr_of(const TEE_BigInt *b) { return (struct bigint_hdr *)(uintptr_t)b; }
static uint32_t *limbs_of(const TEE_BigInt *b) { return (uint32_t *)(uintptr_t)(b + HDR_U32); }

/* Used limbs without leading zero limbs (never more than allocated). */
static uint32_t used_limbs(const TEE_BigInt *b) {
    const struct bigint_hdr *h = hdr_of(b);
    uint32_t n = h->nblimbs <= h->alloc_size ? h->nblimbs : h->alloc_size;
    const uint32_t *l = limbs_of(b);
    while (n && !l[n - 1]) n--;
    return n;
}
static int is_negative(const TEE_BigInt *b) { return hdr_of(b)->sign < 0 && used_limbs(b) != 0; }

static uint32_t bit_count(const TEE_BigInt *b) {
    uint32_t n = used_limbs(b);
    if (!n) return 0;
    return (n - 1) * 32u + (32u - (uint32_t)__builtin_clz(limbs_of(b)[n - 1]));
}
static size_t byte_count(const TEE_BigInt *b) { return (bit_count(b) + 7u) / 8u; }

/* Writes the big-endian magnitude of b (exactly byte_count(b) bytes) to out. */
static void magnitude_out(const TEE_BigInt *b, uint8_t *out) {
    size_t n = byte_count(b);
    const uint32_t *l = limbs_of(b);
    for (size_t i = 0; i < n; i++) out[n - 1 - i] = (uint8_t)(l[i / 4] >> (8 * (i % 4)));
}

/* Stores sign and big-endian magnitude `m` (len bytes) into dest; OVERFLOW if it does not fit. */
static TEE_Result store(TEE_BigInt *dest, int negative, const uint8_t *m, size_t len) {
    while (len && !m[0]) { m++; len--; }
    size_t limbs = (len + 3) / 4;
    struct bigint_hdr *h = hdr_of(dest);
    if (limbs > h->alloc_size) return TEE_ERROR_OVERFLOW;
    uint32_t *l = limbs_of(dest);
    memset(l, 0, limbs * sizeof(uint32_t));
    for (size_t i = 0; i < len; i++) l[i / 4] |= (uint32_t)m[len - 1 - i] << (8 * (i % 4));
    h->nblimbs = (uint16_t)limbs;
    h->sign = (negative && limbs) ? -1 : 1;
    return TEE_SUCCESS;
}

static int cmp_magnitude(const TEE_BigInt *a, const TEE_BigInt *b) {
    uint32_t na = used_limbs(a), nb = used_limbs(b);
    if (na != nb) return na > nb ? 1 : -1;
    const uint32_t *la = limbs_of(a), *lb = limbs_of(b);
    for (uint32_t i = na; i-- > 0;) if (la[i] != lb[i]) return la[i] > lb[i] ? 1 : -1;
    return 0;
}

/* MARK: forwarding to the secure world */

struct fwd { size_t used; };

static void put_operand(struct fwd *f, int i, const TEE_BigInt *b) {
    size_t n = byte_count(b);
    if (f->used + n > VTEE_CH_REQ_BYTES) vt_panic(BIGINT_PANIC);
    magnitude_out(b, vt_req_area + f->used);
    *vtee_ch_req_arg_at(vt_ctl, i) = (uint64_t)n | (is_negative(b) ? VTEE_BIGINT_NEGATIVE : 0);
    f->used += n;
}

/* Sends request `req` with `n` operands and a scalar; returns the secure world's result. */
static TEE_Result forward(uint32_t req, const TEE_BigInt *const *ops, int n, uint64_t scalar) {
    struct fwd f = { 0 };
    for (int i = 0; i < n; i++) put_operand(&f, i, ops[i]);
    *vtee_ch_req_arg_at(vt_ctl, 6) = scalar;
    return vt_request(req);
}

/* Copies result j (of `count` results) of the reply into dest (NULL: skipped); panics if the
 * reply is malformed or the value does not fit dest. */
static void take_result(int j, int count, TEE_BigInt *dest) {
    size_t off = 0;
    for (int k = 0; k <= j && k < count; k++) {
        uint64_t d = *vtee_ch_req_arg_at(vt_ctl, k);
        size_t len = (size_t)(d & 0xFFFFFFFFu);
        if (len > VTEE_CH_REQ_BYTES || off > VTEE_CH_REQ_BYTES - len) vt_panic(BIGINT_PANIC);
        if (k == j) {
            if (dest && store(dest, (d & VTEE_BIGINT_NEGATIVE) != 0, vt_req_area + off, len)) vt_panic(BIGINT_PANIC);
            return;
        }
        off += len;
    }
}

/* One-result operation: panics on any refusal (as libutee's MPI_CHECK does). */
static void op1(uint32_t req, TEE_BigInt *dest, const TEE_BigInt *const *ops, int n, uint64_t scalar) {
    if (forward(req, ops, n, scalar) != TEE_SUCCESS) vt_panic(BIGINT_PANIC);
    take_result(0, 1, dest);
}

static void check_modulus(const TEE_BigInt *n) {
    if (is_negative(n) || bit_count(n) < 2) vt_panic(BIGINT_PANIC);   /* n < 2 */
}

/* MARK: sizes and initialisation */

VTEETA_API size_t TEE_BigIntFMMSizeInU32(size_t modulusSizeInBits) { return (modulusSizeInBits + 31) / 32 + HDR_U32; }
VTEETA_API uint32_t __GP11_TEE_BigIntFMMSizeInU32(uint32_t bits) { return (uint32_t)TEE_BigIntFMMSizeInU32(bits); }
/* The context holds nothing (FMM values are plain TEE_BigInts modulo n); one word, as OP-TEE. */
VTEETA_API size_t TEE_BigIntFMMContextSizeInU32(size_t modulusSizeInBits) { (void)modulusSizeInBits; return 1; }
VTEETA_API uint32_t __GP11_TEE_BigIntFMMContextSizeInU32(uint32_t bits) { return (uint32_t)TEE_BigIntFMMContextSizeInU32(bits); }

VTEETA_API void TEE_BigIntInit(TEE_BigInt *bigInt, size_t len) {
    if (!bigInt || len < HDR_U32 || len > MAX_INIT_U32) vt_panic(BIGINT_PANIC);
    memset(bigInt, 0, len * sizeof(uint32_t));
    hdr_of(bigInt)->sign = 1;
    hdr_of(bigInt)->alloc_size = (uint16_t)(len - HDR_U32);
}
VTEETA_API void __GP11_TEE_BigIntInit(TEE_BigInt *bigInt, uint32_t len) { TEE_BigIntInit(bigInt, len); }
VTEETA_API void TEE_BigIntInitFMM(TEE_BigIntFMM *bigIntFMM, size_t len) { TEE_BigIntInit(bigIntFMM, len); }
VTEETA_API void __GP11_TEE_BigIntInitFMM(TEE_BigIntFMM *bigIntFMM, uint32_t len) { TEE_BigIntInit(bigIntFMM, len); }
VTEETA_API void TEE_BigIntInitFMMContext(TEE_BigIntFMMContext *context, size_t len, const TEE_BigInt *modulus) {
    (void)context; (void)len; (void)modulus;
}
VTEETA_API void __GP11_TEE_BigIntInitFMMContext(TEE_BigIntFMMContext *context, uint32_t len, const TEE_BigInt *modulus) {
    TEE_BigIntInitFMMContext(context, len, modulus);
}
VTEETA_API TEE_Result TEE_BigIntInitFMMContext1(TEE_BigIntFMMContext *context, size_t len, const TEE_BigInt *modulus) {
    TEE_BigIntInitFMMContext(context, len, modulus);
    return TEE_SUCCESS;
}

/* MARK: conversions */

VTEETA_API TEE_Result TEE_BigIntConvertFromOctetString(TEE_BigInt *dest, const uint8_t *buffer, size_t bufferLen, int32_t sign) {
    if (bufferLen && !buffer) vt_panic(BIGINT_PANIC);
    return store(dest, sign < 0, buffer, bufferLen);
}
VTEETA_API TEE_Result __GP11_TEE_BigIntConvertFromOctetString(TEE_BigInt *dest, const uint8_t *buffer, uint32_t bufferLen, int32_t sign) {
    return TEE_BigIntConvertFromOctetString(dest, buffer, bufferLen, sign);
}

VTEETA_API TEE_Result TEE_BigIntConvertToOctetString(uint8_t *buffer, size_t *bufferLen, const TEE_BigInt *bigInt) {
    if (!bufferLen) vt_panic(BIGINT_PANIC);
    size_t sz = byte_count(bigInt);
    TEE_Result r = TEE_SUCCESS;
    if (sz <= *bufferLen) { if (sz) magnitude_out(bigInt, buffer); }
    else r = TEE_ERROR_SHORT_BUFFER;
    *bufferLen = sz;
    return r;
}
VTEETA_API TEE_Result __GP11_TEE_BigIntConvertToOctetString(uint8_t *buffer, uint32_t *bufferLen, const TEE_BigInt *bigInt) {
    if (!bufferLen) vt_panic(BIGINT_PANIC);
    size_t l = *bufferLen;
    TEE_Result r = TEE_BigIntConvertToOctetString(buffer, &l, bigInt);
    *bufferLen = (uint32_t)l;
    return r;
}

VTEETA_API void TEE_BigIntConvertFromS32(TEE_BigInt *dest, int32_t shortVal) {
    uint32_t m = shortVal < 0 ? (uint32_t)0 - (uint32_t)shortVal : (uint32_t)shortVal;
    uint8_t be[4] = { (uint8_t)(m >> 24), (uint8_t)(m >> 16), (uint8_t)(m >> 8), (uint8_t)m };
    if (store(dest, shortVal < 0, be, 4)) vt_panic(BIGINT_PANIC);
}

VTEETA_API TEE_Result TEE_BigIntConvertToS32(int32_t *dest, const TEE_BigInt *src) {
    if (used_limbs(src) > 1) return TEE_ERROR_OVERFLOW;
    uint32_t m = used_limbs(src) ? limbs_of(src)[0] : 0;
    if (is_negative(src)) {
        if (m > 0x80000000u) return TEE_ERROR_OVERFLOW;
        *dest = m == 0x80000000u ? INT32_MIN : -(int32_t)m;
    } else {
        if (m > 0x7FFFFFFFu) return TEE_ERROR_OVERFLOW;
        *dest = (int32_t)m;
    }
    return TEE_SUCCESS;
}

/* MARK: comparison and bits */

VTEETA_API int32_t TEE_BigIntCmp(const TEE_BigInt *op1, const TEE_BigInt *op2) {
    int n1 = is_negative(op1), n2 = is_negative(op2);
    if (n1 != n2) return n1 ? -1 : 1;
    int c = cmp_magnitude(op1, op2);
    return n1 ? -c : c;
}

VTEETA_API int32_t TEE_BigIntCmpS32(const TEE_BigInt *op, int32_t shortVal) {
    uint32_t v[HDR_U32 + 1];
    TEE_BigIntInit(v, HDR_U32 + 1);
    TEE_BigIntConvertFromS32(v, shortVal);
    return TEE_BigIntCmp(op, v);
}

VTEETA_API bool TEE_BigIntGetBit(const TEE_BigInt *src, uint32_t bitIndex) {
    if (bitIndex / 32 >= used_limbs(src)) return false;
    return (limbs_of(src)[bitIndex / 32] >> (bitIndex % 32)) & 1u;
}

VTEETA_API uint32_t TEE_BigIntGetBitCount(const TEE_BigInt *src) { return bit_count(src); }

VTEETA_API TEE_Result TEE_BigIntSetBit(TEE_BigInt *op, uint32_t bitIndex, bool value) {
    struct bigint_hdr *h = hdr_of(op);
    uint32_t used = used_limbs(op), limb = bitIndex / 32;
    uint32_t *l = limbs_of(op);
    if (limb >= used) {
        if (!value) return TEE_SUCCESS;
        if (limb >= h->alloc_size) return TEE_ERROR_OVERFLOW;
        memset(l + used, 0, (limb + 1 - used) * sizeof(uint32_t));
        used = limb + 1;
    }
    if (value) l[limb] |= 1u << (bitIndex % 32);
    else l[limb] &= ~(1u << (bitIndex % 32));
    while (used && !l[used - 1]) used--;
    h->nblimbs = (uint16_t)used;
    if (!used) h->sign = 1;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_BigIntAssign(TEE_BigInt *dest, const TEE_BigInt *src) {
    if (dest == src) return TEE_SUCCESS;
    uint32_t n = used_limbs(src);
    if (hdr_of(dest)->alloc_size < n) return TEE_ERROR_OVERFLOW;
    memmove(limbs_of(dest), limbs_of(src), n * sizeof(uint32_t));
    hdr_of(dest)->nblimbs = (uint16_t)n;
    hdr_of(dest)->sign = is_negative(src) ? -1 : 1;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_BigIntAbs(TEE_BigInt *dest, const TEE_BigInt *src) {
    TEE_Result r = TEE_BigIntAssign(dest, src);
    if (r == TEE_SUCCESS) hdr_of(dest)->sign = 1;
    return r;
}

VTEETA_API void TEE_BigIntNeg(TEE_BigInt *dest, const TEE_BigInt *op) {
    int negative = is_negative(op);
    if (TEE_BigIntAssign(dest, op)) vt_panic(BIGINT_PANIC);
    hdr_of(dest)->sign = (negative || !used_limbs(dest)) ? 1 : -1;
}

/* MARK: arithmetic (forwarded) */

VTEETA_API void TEE_BigIntShiftRight(TEE_BigInt *dest, const TEE_BigInt *op, size_t bits) {
    const TEE_BigInt *ops[] = { op };
    op1(VTEE_REQ_BIGINT_SHIFTR, dest, ops, 1, bits);
}
VTEETA_API void __GP11_TEE_BigIntShiftRight(TEE_BigInt *dest, const TEE_BigInt *op, uint32_t bits) { TEE_BigIntShiftRight(dest, op, bits); }

VTEETA_API void TEE_BigIntAdd(TEE_BigInt *dest, const TEE_BigInt *a, const TEE_BigInt *b) {
    const TEE_BigInt *ops[] = { a, b };
    op1(VTEE_REQ_BIGINT_ADD, dest, ops, 2, 0);
}
VTEETA_API void TEE_BigIntSub(TEE_BigInt *dest, const TEE_BigInt *a, const TEE_BigInt *b) {
    const TEE_BigInt *ops[] = { a, b };
    op1(VTEE_REQ_BIGINT_SUB, dest, ops, 2, 0);
}
VTEETA_API void TEE_BigIntMul(TEE_BigInt *dest, const TEE_BigInt *a, const TEE_BigInt *b) {
    const TEE_BigInt *ops[] = { a, b };
    op1(VTEE_REQ_BIGINT_MUL, dest, ops, 2, 0);
}
VTEETA_API void TEE_BigIntSquare(TEE_BigInt *dest, const TEE_BigInt *op) { TEE_BigIntMul(dest, op, op); }

VTEETA_API void TEE_BigIntDiv(TEE_BigInt *dest_q, TEE_BigInt *dest_r, const TEE_BigInt *a, const TEE_BigInt *b) {
    const TEE_BigInt *ops[] = { a, b };
    if (!used_limbs(b) || forward(VTEE_REQ_BIGINT_DIV, ops, 2, 0) != TEE_SUCCESS) vt_panic(BIGINT_PANIC);
    take_result(0, 2, dest_q);
    take_result(1, 2, dest_r);
}

VTEETA_API void TEE_BigIntMod(TEE_BigInt *dest, const TEE_BigInt *op, const TEE_BigInt *n) {
    check_modulus(n);
    const TEE_BigInt *ops[] = { op, n };
    op1(VTEE_REQ_BIGINT_MOD, dest, ops, 2, 0);
}

static void mod3(uint32_t req, TEE_BigInt *dest, const TEE_BigInt *a, const TEE_BigInt *b, const TEE_BigInt *n) {
    check_modulus(n);
    const TEE_BigInt *ops[] = { a, b, n };
    op1(req, dest, ops, 3, 0);
}
VTEETA_API void TEE_BigIntAddMod(TEE_BigInt *dest, const TEE_BigInt *a, const TEE_BigInt *b, const TEE_BigInt *n) { mod3(VTEE_REQ_BIGINT_ADDMOD, dest, a, b, n); }
VTEETA_API void TEE_BigIntSubMod(TEE_BigInt *dest, const TEE_BigInt *a, const TEE_BigInt *b, const TEE_BigInt *n) { mod3(VTEE_REQ_BIGINT_SUBMOD, dest, a, b, n); }
VTEETA_API void TEE_BigIntMulMod(TEE_BigInt *dest, const TEE_BigInt *a, const TEE_BigInt *b, const TEE_BigInt *n) { mod3(VTEE_REQ_BIGINT_MULMOD, dest, a, b, n); }
VTEETA_API void TEE_BigIntSquareMod(TEE_BigInt *dest, const TEE_BigInt *op, const TEE_BigInt *n) { mod3(VTEE_REQ_BIGINT_MULMOD, dest, op, op, n); }

VTEETA_API void TEE_BigIntInvMod(TEE_BigInt *dest, const TEE_BigInt *op, const TEE_BigInt *n) {
    check_modulus(n);
    if (!used_limbs(op)) vt_panic(BIGINT_PANIC);                      /* inverting zero */
    const TEE_BigInt *ops[] = { op, n };
    op1(VTEE_REQ_BIGINT_INVMOD, dest, ops, 2, 0);
}

VTEETA_API TEE_Result TEE_BigIntExpMod(TEE_BigInt *dest, const TEE_BigInt *op1v, const TEE_BigInt *op2, const TEE_BigInt *n,
                                       const TEE_BigIntFMMContext *context) {
    (void)context;
    if (TEE_BigIntCmpS32(n, 2) <= 0) vt_panic(BIGINT_PANIC);
    if (!TEE_BigIntGetBit(n, 0)) return TEE_ERROR_NOT_SUPPORTED;      /* even modulus, as OP-TEE */
    const TEE_BigInt *ops[] = { op1v, op2, n };
    op1(VTEE_REQ_BIGINT_EXPMOD, dest, ops, 3, 0);
    return TEE_SUCCESS;
}

VTEETA_API bool TEE_BigIntRelativePrime(const TEE_BigInt *a, const TEE_BigInt *b) {
    const TEE_BigInt *ops[] = { a, b };
    if (forward(VTEE_REQ_BIGINT_RELPRIME, ops, 2, 0) != TEE_SUCCESS) vt_panic(BIGINT_PANIC);
    return *vtee_ch_req_arg_at(vt_ctl, 7) != 0;
}

VTEETA_API void TEE_BigIntComputeExtendedGcd(TEE_BigInt *gcd, TEE_BigInt *u, TEE_BigInt *v, const TEE_BigInt *a, const TEE_BigInt *b) {
    const TEE_BigInt *ops[] = { a, b };
    if (forward(VTEE_REQ_BIGINT_EGCD, ops, 2, 0) != TEE_SUCCESS) vt_panic(BIGINT_PANIC);
    take_result(0, 3, gcd);
    take_result(1, 3, u);
    take_result(2, 3, v);
}

VTEETA_API int32_t TEE_BigIntIsProbablePrime(const TEE_BigInt *op, uint32_t confidenceLevel) {
    const TEE_BigInt *ops[] = { op };
    if (forward(VTEE_REQ_BIGINT_PRIME, ops, 1, confidenceLevel) != TEE_SUCCESS) vt_panic(BIGINT_PANIC);
    return *vtee_ch_req_arg_at(vt_ctl, 7) ? 1 : 0;
}

/* MARK: fast modular multiplication (plain values modulo n) */

VTEETA_API void TEE_BigIntConvertToFMM(TEE_BigIntFMM *dest, const TEE_BigInt *src, const TEE_BigInt *n, const TEE_BigIntFMMContext *context) {
    (void)context;
    TEE_BigIntMod(dest, src, n);
}
VTEETA_API void TEE_BigIntConvertFromFMM(TEE_BigInt *dest, const TEE_BigIntFMM *src, const TEE_BigInt *n, const TEE_BigIntFMMContext *context) {
    (void)n; (void)context;
    if (TEE_BigIntAssign(dest, src)) vt_panic(BIGINT_PANIC);
}
VTEETA_API void TEE_BigIntFMMConvertToBigInt(TEE_BigInt *dest, const TEE_BigIntFMM *src, const TEE_BigInt *n, const TEE_BigIntFMMContext *context) {
    TEE_BigIntConvertFromFMM(dest, src, n, context);
}
VTEETA_API void TEE_BigIntComputeFMM(TEE_BigIntFMM *dest, const TEE_BigIntFMM *a, const TEE_BigIntFMM *b, const TEE_BigInt *n, const TEE_BigIntFMMContext *context) {
    (void)context;
    mod3(VTEE_REQ_BIGINT_MULMOD, dest, a, b, n);
}
