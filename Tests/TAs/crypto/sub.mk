global-incdirs-y += .
srcs-y += crypto_ta.c
cflags-crypto_ta.c-y += -Wno-unused-parameter
