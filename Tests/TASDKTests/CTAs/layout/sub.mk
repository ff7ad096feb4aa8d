global-incdirs-y += include
srcs-y += layout_ta.c
cflags-y += -DLAYOUT_DIR_FLAG=1
cflags-layout_ta.c-y += -DLAYOUT_FILE_FLAG=7
subdirs-y += lib
