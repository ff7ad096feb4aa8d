/* The small library in lib/, compiled with its own per-file flag. */
#ifndef MATHLIB_H
#define MATHLIB_H
#include <stdint.h>
uint32_t mathlib_scale(uint32_t v);
#endif
