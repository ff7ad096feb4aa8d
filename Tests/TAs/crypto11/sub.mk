global-incdirs-y += .
srcs-y += crypto11_ta.c
cflags-crypto11_ta.c-y += -Wno-unused-parameter
