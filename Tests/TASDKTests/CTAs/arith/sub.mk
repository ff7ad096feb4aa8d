global-incdirs-y += include
srcs-y += arith_ta.c
