# vtee TA dev kit: builds an OP-TEE-layout TA directory into a signed <uuid>.ta for vtee.
#
# A TA's Makefile sets BINARY=<uuid> (or LIBNAME=<name> for a static library) and
# does `-include $(TA_DEV_KIT_DIR)/mk/ta_dev_kit.mk`, exactly as with OP-TEE's kit.
# The TA's sources are listed in sub.mk files:
#   srcs-y, subdirs-y, global-incdirs-y, incdirs-y, cflags-y, cppflags-y, aflags-y,
#   cflags-remove-y, cflags-<file>-y, cppflags-<file>-y, aflags-<file>-y,
#   cflags-remove-<file>-y, incdirs-<file>-y
# Every CFG_* variable becomes -DCFG_*=1 (for y) or -DCFG_*=<value> (n or empty: nothing).
#
# The TA is a host shared object (built by the host C compiler, $(CROSS_COMPILE)gcc with
# an empty or host CROSS_COMPILE), linked against $(TA_DEV_KIT_DIR)/lib/libvteeta.so with
# --no-undefined, then signed by `vtee ta sign` into $(O)/<uuid>.ta. O defaults to the
# TA directory. Outputs: <uuid>.elf, .map, .dmp, .stripped.elf, .ta.
#
# Variables: TA_DEV_KIT_DIR, O, CROSS_COMPILE, COMPILER (gcc|clang), CFG_TEE_TA_LOG_LEVEL,
# CFG_TA_OPTEE_CORE_API_COMPAT_1_1, CFG_TA_VERSION, TA_SIGN_KEY, VTEE (the vtee binary
# that signs; recorded at export), libnames, libdirs, libdeps, LDADD, WARNS, V=1.

all:

ta-dev-kit-dir := $(patsubst %/,%,$(dir $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))))
include $(ta-dev-kit-dir)/mk/conf.mk

ifneq ($(words $(BINARY) $(LIBNAME) $(SHLIBNAME)),1)
$(error set exactly one of BINARY=<uuid> or LIBNAME=<name> before including ta_dev_kit.mk)
endif
ifneq ($(SHLIBNAME),)
$(error SHLIBNAME (OP-TEE TA shared libraries) is not supported by the vtee dev kit; use LIBNAME)
endif

O ?= .
out-dir := $(patsubst %/,%,$(O))

ifeq ($(V),1)
q :=
else
q := @
endif

# ---- Toolchain: the host compiler ------------------------------------------------------
COMPILER ?= gcc
host-machine := $(shell gcc -dumpmachine 2>/dev/null || cc -dumpmachine 2>/dev/null)
ifneq ($(strip $(CROSS_COMPILE)),)
ifneq ($(shell $(CROSS_COMPILE)gcc -dumpmachine 2>/dev/null),$(host-machine))
$(warning vtee dev kit: CROSS_COMPILE=$(CROSS_COMPILE) does not target this host ($(host-machine)); using the host compiler)
override CROSS_COMPILE :=
endif
endif
ifeq ($(COMPILER),clang)
CC_TA := clang
else
CC_TA := $(CROSS_COMPILE)gcc
endif
AR_TA := $(CROSS_COMPILE)ar
OBJCOPY_TA := $(CROSS_COMPILE)objcopy
OBJDUMP_TA := $(CROSS_COMPILE)objdump

# ---- Flags --------------------------------------------------------------------------------
CFG_TA_VERSION ?= 0
TA_SIGN_KEY ?= $(ta-dev-kit-dir)/keys/default_ta.pem
WARNS ?= 3

cfg-vars := $(sort $(filter CFG_%,$(.VARIABLES)))
cfg-define = $(if $(filter y,$($1)),-D$1=1,$(if $(filter n,$($1))$(if $(strip $($1)),,empty),,-D$1=$($1)))
cfg-cppflags := $(foreach v,$(cfg-vars),$(call cfg-define,$v))

ifeq ($(CFG_TA_OPTEE_CORE_API_COMPAT_1_1),y)
compat-cppflags := -D__OPTEE_CORE_API_COMPAT_1_1=1
endif

warn-flags-1 := -Wall
warn-flags-2 := -Wall -Wextra -Wno-unused-parameter
warn-flags-3 := -Wall -Wextra -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes
ta-warn-flags := $(warn-flags-$(WARNS))

ta-cflags := -std=gnu11 -fPIC -g -O2 -fno-common -fvisibility=default $(ta-warn-flags)
ta-cppflags := -I. -I$(ta-dev-kit-dir)/include $(cfg-cppflags) $(compat-cppflags) -DARM64=0 -D__VTEE_TA__=1
ta-aflags := -fPIC -g

# ---- sub.mk processing --------------------------------------------------------------------
objs :=
global-incdirs :=
per-dir-vars := srcs-y subdirs-y global-incdirs-y incdirs-y cflags-y cppflags-y aflags-y \
		cflags-remove-y cppflags-remove-y aflags-remove-y

# $1: directory ("." for the TA root), $2: source as listed in srcs-y.
# Each object gets an explicit rule with its own flags (target-specific variables).
define vtee-add-src
vtee-src := $(patsubst ./%,%,$(if $(filter /%,$2),$2,$(if $(filter .,$1),$2,$1/$2)))
vtee-obj := $(patsubst ./%,%,$(out-dir)/$$(basename $$(vtee-src)).o)
objs += $$(vtee-obj)
$$(vtee-obj): OBJ_SRC := $$(vtee-src)
$$(vtee-obj): OBJ_CFLAGS := $(filter-out $(cflags-remove-y) $(cflags-remove-$2-y),$(ta-cflags) $(CFLAGS_TA) $(cflags-y) $(cflags-$2-y))
$$(vtee-obj): OBJ_CPPFLAGS := $(cppflags-y) $(cppflags-$2-y) $(addprefix -I,$(patsubst ./%,%,$(addprefix $1/,$(incdirs-y) $(incdirs-$2-y))))
$$(vtee-obj): OBJ_AFLAGS := $(ta-aflags) $(aflags-y) $(aflags-$2-y)
$$(vtee-obj): $$(vtee-src)
cflags-$2-y :=
cflags-remove-$2-y :=
cppflags-$2-y :=
aflags-$2-y :=
incdirs-$2-y :=
endef

# $1: directory whose sub.mk to read (recursively through subdirs-y).
define vtee-process-dir
$(foreach v,$(per-dir-vars),$(eval $v :=))
include $1/sub.mk
global-incdirs += $$(patsubst ./%,%,$$(addprefix $1/,$$(global-incdirs-y)))
subdirs-of-$1 := $$(addprefix $1/,$$(subdirs-y))
$$(foreach s,$$(srcs-y),$$(eval $$(call vtee-add-src,$1,$$s)))
$$(foreach d,$$(subdirs-of-$1),$$(eval $$(call vtee-process-dir,$$d)))
endef

ifeq ($(wildcard sub.mk),)
$(error no sub.mk in $(CURDIR): a TA directory lists its sources in sub.mk)
endif
$(eval $(call vtee-process-dir,.))

ta-cppflags += $(addprefix -I,$(global-incdirs))


# ---- Rules --------------------------------------------------------------------------------
ifneq ($(BINARY),)
ta-uuid := $(BINARY)
ta-elf := $(out-dir)/$(BINARY).elf
ta-stripped := $(out-dir)/$(BINARY).stripped.elf
ta-image := $(out-dir)/$(BINARY).ta
ta-header-obj := $(out-dir)/user_ta_header.o
ta-libvteeta := $(ta-dev-kit-dir)/lib/libvteeta.so

all: $(ta-image)

$(ta-header-obj): $(ta-dev-kit-dir)/src/user_ta_header.c
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(q)$(CC_TA) $(ta-cflags) $(CFLAGS_TA) $(ta-cppflags) $(CPPFLAGS_TA) -MMD -MP -c $< -o $@

$(ta-elf): $(objs) $(ta-header-obj) $(libdeps)
	@test -f $(ta-libvteeta) || { echo "vtee dev kit: $(ta-libvteeta) is missing (re-export the kit with vtee devkit export)"; exit 1; }
	@echo '  LD      $@'
	$(q)$(CC_TA) -shared -fPIC -o $@ $(objs) $(ta-header-obj) \
		-Wl,--no-undefined -Wl,-z,noexecstack -Wl,-Map=$(out-dir)/$(BINARY).map \
		$(addprefix -L,$(libdirs)) $(addprefix -l,$(libnames)) $(LDADD) \
		-L$(ta-dev-kit-dir)/lib -lvteeta

$(ta-stripped): $(ta-elf)
	@echo '  OBJCOPY $@'
	$(q)$(OBJCOPY_TA) --strip-unneeded $< $@
	$(q)$(OBJDUMP_TA) -l -x -d $< > $(out-dir)/$(BINARY).dmp

$(ta-image): $(ta-stripped) $(TA_SIGN_KEY)
	@echo '  SIGN    $@'
	$(q)$(VTEE) ta sign --key $(TA_SIGN_KEY) --uuid $(ta-uuid) --ta-version $(CFG_TA_VERSION) \
		--in $< --out $@

cleanfiles := $(ta-elf) $(ta-stripped) $(ta-image) $(out-dir)/$(BINARY).map \
	      $(out-dir)/$(BINARY).dmp $(ta-header-obj) $(ta-header-obj:.o=.d)
else
ta-lib := $(out-dir)/lib$(LIBNAME).a
all: $(ta-lib)
$(ta-lib): $(objs)
	@echo '  AR      $@'
	$(q)rm -f $@ && $(AR_TA) rcs $@ $^
cleanfiles := $(ta-lib)
endif

$(filter %.o,$(objs)):
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(q)$(if $(filter %.S,$(OBJ_SRC)),\
		$(CC_TA) $(OBJ_AFLAGS) $(ta-cppflags) $(OBJ_CPPFLAGS) $(CPPFLAGS_TA) -c $(OBJ_SRC) -o $@,\
		$(CC_TA) $(OBJ_CFLAGS) $(ta-cppflags) $(OBJ_CPPFLAGS) $(CPPFLAGS_TA) -MMD -MP -c $(OBJ_SRC) -o $@)

cleanfiles += $(objs) $(objs:.o=.d)

.PHONY: all clean
clean:
	@echo '  CLEAN   $(out-dir)'
	$(q)rm -f $(cleanfiles)

-include $(objs:.o=.d) $(out-dir)/user_ta_header.d
