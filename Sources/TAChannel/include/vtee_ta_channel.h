/* The TA channel: the one shared-memory page (plus two data areas) through which the secure
 * world (vtee's TAHost module) and a TA process (libvteeta) talk. Both sides map the same
 * memfd; either may be hostile to the other, so every field read across the boundary is
 * copied once and checked before use. Layout is fixed (little-endian host, LP64).
 *
 * Protocol: one call at a time, ping-pong on `state`:
 *   SW  -> TA : CALL    (an entry point: op, session, cmd, params)
 *   TA  -> SW : REQ     (a service the TA needs from the secure world: log, storage, TA-to-TA ...)
 *   SW  -> TA : REPLY   (the answer to REQ)
 *   TA  -> SW : DONE    (the entry point returned: result, params written back)
 *   TA  -> SW : READY   (once, after the TA image is loaded and the sandbox is installed)
 * The side that posts a state writes one byte on the doorbell socket only when the other side
 * announced it sleeps (sw_waiting / ta_waiting), so a fast round trip makes no syscall. */
#ifndef VTEE_TA_CHANNEL_H
#define VTEE_TA_CHANNEL_H
#include <stdint.h>

/* Channel states. */
enum {
    VTEE_CH_IDLE = 0, VTEE_CH_CALL = 1, VTEE_CH_REQ = 2, VTEE_CH_REPLY = 3,
    VTEE_CH_DONE = 4, VTEE_CH_READY = 5
};

/* Entry operations (SW -> TA). */
enum {
    VTEE_OP_CREATE = 1, VTEE_OP_OPEN = 2, VTEE_OP_INVOKE = 3, VTEE_OP_CLOSE = 4,
    VTEE_OP_DESTROY = 5, VTEE_OP_EXIT = 6
};

/* Requests (TA -> SW). */
enum {
    VTEE_REQ_LOG = 1, VTEE_REQ_REE_TIME = 2, VTEE_REQ_PTIME_GET = 3, VTEE_REQ_PTIME_SET = 4,
    VTEE_REQ_SUPP_PLUGIN = 5, /* req_uuid = plugin, args[0] cmd, [1] sub_cmd, [2] len (data in the area); out: args[3] out_len */
    VTEE_REQ_TA_OPEN = 10, VTEE_REQ_TA_INVOKE = 11, VTEE_REQ_TA_CLOSE = 12,
    VTEE_REQ_OBJ_OPEN = 20, VTEE_REQ_OBJ_CREATE = 21, VTEE_REQ_OBJ_CLOSE = 22,
    VTEE_REQ_OBJ_READ = 23, VTEE_REQ_OBJ_WRITE = 24, VTEE_REQ_OBJ_TRUNC = 25,
    VTEE_REQ_OBJ_SEEK = 26, VTEE_REQ_OBJ_RENAME = 27, VTEE_REQ_OBJ_DELETE = 28,
    VTEE_REQ_OBJ_INFO = 29, VTEE_REQ_OBJ_LIST = 30, VTEE_REQ_OBJ_PEEK = 31,
    /* GP crypto (TACrypto in the secure world), 40..69. Scalars in req_args (a0..a7), bytes at
     * the start of the request area; "attrs" is the attribute encoding (u32 LE count, then per
     * attribute u32 id, a, b, length and the bytes). Handles are the secure world's numbers.
     *  OBJ_ALLOC a0 type, a1 maxSize -> a0 object      OBJ_FREE/OBJ_RESET a0 object
     *  OBJ_POPULATE a0 object, a1 attrs length           OBJ_INFO a0 -> a1 type, a2 size, a3 maxSize,
     *  OBJ_RESTRICT a0 object, a1 usage                     a4 usage, a5 initialized
     *  OBJ_GET_ATTR a0 object, a1 id, a2 value?, a3 capacity -> buffer: area, a1 length (SHORT_BUFFER:
     *    a2 needed); value: a1 a, a2 b             OBJ_COPY a0 dst, a1 src
     *  OBJ_GENERATE a0 object, a1 bits, a2 attrs length (the optional parameters)
     *  OP_ALLOC a0 algorithm, a1 mode, a2 maxKeySize -> a0 operation   OP_FREE/OP_RESET a0
     *  OP_INFO a0 -> area: 8 words of TEE_OperationInfo then TEE_OperationInfoMultiple, a1 words
     *  OP_SET_KEY a0 operation, a1 key object (0: none), a2 key2, a3 1 for SetOperationKey2
     *  OP_COPY a0 dst, a1 src      OP_INIT a0, a1 IV length (IV in the area)
     *  AE_INIT a0, a1 nonce length, a2 tag bits, a3 AAD length, a4 payload length
     *  OP_STEP a0, a1 step (TACrypto's CryptoStep), a2 input length, a3 output capacity, a4 tag
     *    length (compare: the tag follows the input) or tag capacity -> output then tag in the
     *    area, a2 output length, a4 tag length (SHORT_BUFFER: a2 / a4 needed)
     *  DERIVE a0 operation, a1 derived object, a2 attrs length
     *  ASYM a0 operation, a1 attrs length, a2 input length, a3 signature length, a4 output
     *    capacity (area: attrs, input, signature) -> output, a2 length
     *  RANDOM a0 length -> area    SUPPORTED a0 algorithm, a1 element (SUCCESS or NOT_SUPPORTED)
     * A persistent object's key: OBJ_CREATE a2 is the key object to store (0: data only) and
     * answers a1 = the new handle's key object; OBJ_OPEN answers a5 = its key object. */
    VTEE_REQ_CRYPTO_OBJ_ALLOC = 40, VTEE_REQ_CRYPTO_OBJ_FREE = 41, VTEE_REQ_CRYPTO_OBJ_RESET = 42,
    VTEE_REQ_CRYPTO_OBJ_POPULATE = 43, VTEE_REQ_CRYPTO_OBJ_INFO = 44, VTEE_REQ_CRYPTO_OBJ_RESTRICT = 45,
    VTEE_REQ_CRYPTO_OBJ_GET_ATTR = 46, VTEE_REQ_CRYPTO_OBJ_COPY = 47, VTEE_REQ_CRYPTO_OBJ_GENERATE = 48,
    VTEE_REQ_CRYPTO_OP_ALLOC = 49, VTEE_REQ_CRYPTO_OP_FREE = 50, VTEE_REQ_CRYPTO_OP_INFO = 51,
    VTEE_REQ_CRYPTO_OP_RESET = 52, VTEE_REQ_CRYPTO_OP_SET_KEY = 53, VTEE_REQ_CRYPTO_OP_COPY = 54,
    VTEE_REQ_CRYPTO_OP_INIT = 55, VTEE_REQ_CRYPTO_AE_INIT = 56, VTEE_REQ_CRYPTO_OP_STEP = 57,
    VTEE_REQ_CRYPTO_DERIVE = 58, VTEE_REQ_CRYPTO_ASYM = 59, VTEE_REQ_CRYPTO_RANDOM = 60,
    VTEE_REQ_CRYPTO_SUPPORTED = 61, VTEE_REQ_CRYPTO_LAST = 69
    /* 70..89: the TEE_BigInt API (crypto2). */
};

/* TEE_BigInt arithmetic (TA -> SW, 70..89; computed by TACrypto.BigIntArith). Operand i
 * (i < 4) is req_args[i] = byte length | (1 << 63 if negative), its big-endian magnitude
 * packed after the previous one from the request area's start; req_args[6] is the scalar
 * argument (shift width, primality confidence). The reply packs result j the same way in
 * req_args[j] and the area, and a scalar result in req_args[7]. */
enum {
    VTEE_REQ_BIGINT_ADD = 70, VTEE_REQ_BIGINT_SUB = 71, VTEE_REQ_BIGINT_MUL = 72,
    VTEE_REQ_BIGINT_DIV = 73, VTEE_REQ_BIGINT_MOD = 74, VTEE_REQ_BIGINT_ADDMOD = 75,
    VTEE_REQ_BIGINT_SUBMOD = 76, VTEE_REQ_BIGINT_MULMOD = 77, VTEE_REQ_BIGINT_INVMOD = 78,
    VTEE_REQ_BIGINT_EXPMOD = 79, VTEE_REQ_BIGINT_EGCD = 80, VTEE_REQ_BIGINT_PRIME = 81,
    VTEE_REQ_BIGINT_SHIFTR = 82, VTEE_REQ_BIGINT_RELPRIME = 83,
    VTEE_REQ_BIGINT_FIRST = 70, VTEE_REQ_BIGINT_LAST = 89
};
#define VTEE_BIGINT_NEGATIVE (1ull << 63)

/* Fixed file descriptors of a TA process. */
#define VTEE_TA_FD_CHANNEL 3
#define VTEE_TA_FD_DOORBELL 4
#define VTEE_TA_FD_IMAGE 5

/* Geometry of the channel memfd: the control page, the call area (memref params of an entry
 * point) and the request area (data of a TA -> SW request). */
#define VTEE_CH_CONTROL_BYTES 4096u
#define VTEE_CH_CALL_OFFSET 4096u
#define VTEE_CH_CALL_BYTES (16u << 20)
#define VTEE_CH_REQ_OFFSET (VTEE_CH_CALL_OFFSET + VTEE_CH_CALL_BYTES)
#define VTEE_CH_REQ_BYTES (16u << 20)
#define VTEE_CH_TOTAL_BYTES (VTEE_CH_REQ_OFFSET + VTEE_CH_REQ_BYTES)

/* Exit status of a TA process that called TEE_Panic (the code is in `panic_code`). */
#define VTEE_TA_PANIC_EXIT 0x7e
/* Exit status of a TA process whose image could not be loaded (reason in `result`). */
#define VTEE_TA_LOAD_EXIT 0x7d

/* One TEE_Param across the channel: a value (a, b) or a memref (offset into the area, size);
 * a NULL memref has offset UINT64_MAX. */
struct vtee_ch_param { uint64_t a; uint64_t b; };

/* The control page. */
struct vtee_ch_control {
    uint32_t state;        /* VTEE_CH_*: the doorbell word */
    uint32_t sw_waiting;   /* 1 while the secure world sleeps on the doorbell socket */
    uint32_t ta_waiting;   /* 1 while the TA sleeps on the doorbell socket */
    uint32_t cancel;       /* 1 when the current entry point's client asked to cancel (futex word) */

    /* Entry point (SW -> TA, results TA -> SW). */
    uint32_t op, session, cmd, param_types;
    struct vtee_ch_param params[4];
    uint32_t client_login;
    uint8_t client_uuid[16];
    uint32_t result, origin;
    uint32_t panicked, panic_code;

    /* Request (TA -> SW) and its reply. */
    uint32_t req, req_result, req_origin, req_pad;
    uint64_t req_args[8];              /* request-specific scalars, in and out */
    uint32_t req_param_types, req_pad2;
    struct vtee_ch_param req_params[4]; /* TA-to-TA params (memrefs: offsets in the request area) */
    uint8_t req_uuid[16];

    /* Set once by the TA at READY: what it found in its image. */
    uint32_t ta_flags, ta_stack_size, ta_data_size, ta_pad;
};

/* Shared-memory atomics for both sides (the peer is another process). */
static inline uint32_t vtee_ch_load(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void vtee_ch_store(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
/* Entry param i (0...3) of the control page; callers check i. */
static inline struct vtee_ch_param *vtee_ch_param_at(struct vtee_ch_control *c, int i) { return &c->params[i & 3]; }
/* TA-to-TA request param i (0...3). */
static inline struct vtee_ch_param *vtee_ch_req_param_at(struct vtee_ch_control *c, int i) { return &c->req_params[i & 3]; }
/* Request scalar i (0...7). */
static inline uint64_t *vtee_ch_req_arg_at(struct vtee_ch_control *c, int i) { return &c->req_args[i & 7]; }
#endif
