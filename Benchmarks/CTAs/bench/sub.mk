global-incdirs-y += .
srcs-y += bench_ta.c
cflags-bench_ta.c-y += -Wno-unused-parameter
