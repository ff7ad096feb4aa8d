global-incdirs-y += .
srcs-y += core_ta.c
cflags-core_ta.c-y += -Wno-unused-parameter
