/* Private to lib/ (incdirs-y): not visible from the TA's top directory. */
#ifndef MATHLIB_PRIV_H
#define MATHLIB_PRIV_H
#define MATHLIB_PRIV_PRESENT 1
#endif
