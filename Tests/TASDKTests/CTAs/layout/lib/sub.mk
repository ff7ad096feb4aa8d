srcs-y += mathlib.c
incdirs-y += priv
cflags-mathlib.c-y += -DMATHLIB_FACTOR=3
