/* SPDX-License-Identifier: BSD-2-Clause */
/* vtee TA dev kit: the small helpers of OP-TEE's <util.h> that TA sources use. */
#ifndef UTIL_H
#define UTIL_H

#include <compiler.h>
#include <inttypes.h>
#include <stdint.h>

#ifndef SIZE_4K
#define SIZE_4K	UINTPTR_C(0x1000)
#endif
#ifndef SIZE_1M
#define SIZE_1M	UINTPTR_C(0x100000)
#endif

#ifndef MAX
#define MAX(a, b) \
	(__extension__({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); \
			 _a > _b ? _a : _b; }))
#define MIN(a, b) \
	(__extension__({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); \
			 _a < _b ? _a : _b; }))
#endif
#define MAX_UNSAFE(a, b)	(((a) > (b)) ? (a) : (b))
#define MIN_UNSAFE(a, b)	(((a) < (b)) ? (a) : (b))

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(x)	(sizeof(x) / sizeof((x)[0]))
#endif

/* Round up/down to a power-of-two multiple. */
#define ROUNDUP(v, size)	(((v) + ((__typeof__(v))(size) - 1)) & \
				 ~((__typeof__(v))(size) - 1))
#define ROUNDDOWN(x, y)		(((x) / (__typeof__(x))(y)) * (__typeof__(x))(y))
#define DIV_ROUND_UP(x, y)	(((x) + (y) - 1) / (y))
#define IS_ALIGNED(x, a)	(((x) & ((a) - 1)) == 0)
#define IS_POWER_OF_TWO(x)	(((x) != 0) && (((x) & (~(x) + 1)) == (x)))

#define ADD_OVERFLOW(a, b, res)	__compiler_add_overflow((a), (b), (res))
#define SUB_OVERFLOW(a, b, res)	__compiler_sub_overflow((a), (b), (res))
#define MUL_OVERFLOW(a, b, res)	__compiler_mul_overflow((a), (b), (res))

#define TO_STR(x)	_TO_STR(x)
#define _TO_STR(x)	#x

#define CONCAT(x, y)	_CONCAT(x, y)
#define _CONCAT(x, y)	x##y

#define container_of(ptr, type, member) \
	(__extension__({ const __typeof__(((type *)0)->member) *__ptr = (ptr); \
			 (type *)((unsigned long)(__ptr) - offsetof(type, member)); }))

#define BIT32(nr)	(UINT32_C(1) << (nr))
#define BIT64(nr)	(UINT64_C(1) << (nr))
#define BIT(nr)		BIT32(nr)
#define SHIFT_U32(v, shift)	((uint32_t)(v) << (shift))
#define SHIFT_U64(v, shift)	((uint64_t)(v) << (shift))
#define GENMASK_32(h, l) \
	((UINT32_C(0xffffffff) << (l)) & (UINT32_C(0xffffffff) >> (32 - 1 - (h))))
#define GENMASK_64(h, l) \
	((UINT64_C(0xffffffffffffffff) << (l)) & \
	 (UINT64_C(0xffffffffffffffff) >> (64 - 1 - (h))))

#define TEE_U32_BSWAP(x)	__compiler_bswap32((x))
#define TEE_U16_BSWAP(x)	__compiler_bswap16((x))
#define TEE_U64_BSWAP(x)	__compiler_bswap64((x))
#define TEE_U64_TO_BIG_ENDIAN(x)	TEE_U64_BSWAP(x)
#define TEE_U64_FROM_BIG_ENDIAN(x)	TEE_U64_BSWAP(x)
#define TEE_U32_TO_BIG_ENDIAN(x)	TEE_U32_BSWAP(x)
#define TEE_U32_FROM_BIG_ENDIAN(x)	TEE_U32_BSWAP(x)
#define TEE_U16_TO_BIG_ENDIAN(x)	TEE_U16_BSWAP(x)
#define TEE_U16_FROM_BIG_ENDIAN(x)	TEE_U16_BSWAP(x)

#endif /* UTIL_H */
