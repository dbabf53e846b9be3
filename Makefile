# rkt: a thin Makefile over the go tool.
#
#   make            build build/bin/rkt and the stage1 images beside it,
#                   build/bin/stage1-nspawn.aci and build/bin/stage1-fly.aci
#                   (runs ./configure with the defaults if needed)
#   make stage1     only the stage1 images
#   make check      unit tests, then the functional tests against build/bin/rkt (as root)
#   make lint       gofmt, go vet, shellcheck
#   make demo       the signed-image walkthrough of scripts/demo.sh (as root)
#   make bench      the benchmarks in bench/ (as root)
#   make man        the man pages, build/man/*.1, from the command tree
#   make proto      regenerate api/v1alpha's Go stubs from api.proto (needs
#                   protoc; the plugins are pinned in internal/tools/protoc)
#   make proto-check  regenerate them into build/ and diff with the committed
#   make install    install the binary, the stage1 images, man pages,
#                   completion and the dist/ files; PREFIX=... on the make
#                   command line wins over configure's, DESTDIR=... stages
#   make uninstall  remove what make install installed (same PREFIX, DESTDIR)
#   make deb        build/rkt_VERSION_ARCH.deb (dpkg-deb; PREFIX=/usr)
#   make clean      remove build/
#
# `go build ./...` and `go test ./...` work without any of this.

BUILDDIR := build

# build/config.mk is written by ./configure. When it is missing (or older than
# configure), make runs ./configure first, with the options of the last run,
# and restarts.
-include $(BUILDDIR)/config.mk

# Everything below PREFIX is derived lazily (=), so that PREFIX given on
# the make command line moves all of it, the paths compiled into rkt
# included. Paths configure was given explicitly stay as given.
PREFIX ?= /usr/local
BINDIR = $(or $(BINDIR_CONFIGURED),$(PREFIX)/bin)
STAGE1_FLAVORS ?= nspawn,fly
STAGE1_DEFAULT_FLAVOR ?= nspawn
STAGE1_IMAGES_DIR = $(or $(STAGE1_IMAGES_DIR_CONFIGURED),$(PREFIX)/lib/rkt/stage1-images)
STAGE1_DEFAULT_LOCATION ?=
STAGE1_DEFAULT_NAME ?=
STAGE1_DEFAULT_VERSION ?=
GO ?= go

DESTDIR ?=
LIBDIR = $(PREFIX)/lib
DATADIR = $(PREFIX)/share
LIBEXECDIR = $(PREFIX)/libexec/rkt
DOCDIR = $(DATADIR)/doc/rkt
MANDIR = $(DATADIR)/man
BASHCOMPDIR = $(DATADIR)/bash-completion/completions
ZSHCOMPDIR = $(DATADIR)/zsh/vendor-completions
FISHCOMPDIR = $(DATADIR)/fish/vendor_completions.d

# The version: the v* tag on the commit (a release), else the release this
# tree heads for (the VERSION file, which a release tag must match) with the
# commit as build metadata: 1.31.0+git<commit>[-dirty]. Clients compare the
# leading numbers (Nomad needs rkt >= 1.27.0), so they stay rkt's line.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --exact-match --match 'v[0-9]*' --dirty 2>/dev/null | sed 's/^v//')
ifeq ($(VERSION),)
VERSION := $(shell cat VERSION)+git$(shell git describe --always --dirty 2>/dev/null || echo unknown)
endif
endif

export CGO_ENABLED ?= 0
export GOTOOLCHAIN ?= local
GOFLAGS_BUILD ?= -trimpath
LDFLAGS := -X github.com/rkt/rkt/stage0/version.Version=$(VERSION)
# The build's stage1 choices, compiled into rkt (see rkt/stage1.go).
RKT_LDFLAGS = $(LDFLAGS) \
	-X "main.defaultStage1Flavor=$(STAGE1_DEFAULT_FLAVOR)" \
	-X "main.buildStage1ImagesDir=$(STAGE1_IMAGES_DIR)" \
	-X "main.buildStage1Location=$(STAGE1_DEFAULT_LOCATION)" \
	-X "main.buildStage1Name=$(STAGE1_DEFAULT_NAME)" \
	-X "main.buildStage1Version=$(STAGE1_DEFAULT_VERSION)" \
	-X "main.buildLibexecDir=$(LIBEXECDIR)"
TEST_TIMEOUT ?= 30m

RKT := $(BUILDDIR)/bin/rkt
# The api-service's own binary, beside rkt (rkt api-service execs it).
API_SERVICE := $(BUILDDIR)/bin/rkt-api-service
STAGE1_BINDIR := $(BUILDDIR)/stage1
comma := ,
STAGE1_ACIS := $(foreach f,$(subst $(comma), ,$(STAGE1_FLAVORS)),$(BUILDDIR)/bin/stage1-$(f).aci)
COMPLETION_DIR := $(BUILDDIR)/completion
COMPLETION := $(COMPLETION_DIR)/rkt.bash
GENDOCS := $(BUILDDIR)/gen/rkt-gendocs
MAN_DIR := $(BUILDDIR)/man
DIST_EXAMPLES := $(notdir $(wildcard dist/init/systemd/examples/*.service))
SHELL_SCRIPTS := configure .ci/run $(wildcard scripts/*.sh dist/scripts/*.sh bench/*.sh) dist/deb/postinst dist/deb/prerm dist/deb/postrm

.PHONY: all rkt stage1 stage1-binaries completion man proto proto-check check check-unit check-functional lint demo bench install uninstall deb clean distclean

all: rkt stage1 completion man

$(BUILDDIR)/config.mk: configure
	./configure $(CONFIGURE_ARGS)

# Always handed to the go tool, which knows what is up to date.
rkt:
	@mkdir -p $(dir $(RKT))
	$(GO) build $(GOFLAGS_BUILD) -ldflags '$(RKT_LDFLAGS)' -o $(RKT) ./rkt
	$(GO) build $(GOFLAGS_BUILD) -ldflags '$(LDFLAGS)' -o $(API_SERVICE) ./stage0/apiservice/rkt-api-service

# The stage1 images: static binaries (CGO_ENABLED=0) packed by
# stage1/image/mkimage into deterministic ACIs beside the rkt binary.
stage1: $(STAGE1_ACIS)

stage1-binaries:
	@mkdir -p $(STAGE1_BINDIR)
	$(GO) build $(GOFLAGS_BUILD) -ldflags '-s -w $(LDFLAGS)' -o $(STAGE1_BINDIR)/nspawn-stage1 ./stage1/nspawn
	$(GO) build $(GOFLAGS_BUILD) -ldflags '-s -w $(LDFLAGS)' -o $(STAGE1_BINDIR)/supervisor ./stage1/supervisor
	$(GO) build $(GOFLAGS_BUILD) -ldflags '-s -w $(LDFLAGS)' -o $(STAGE1_BINDIR)/fly-stage1 ./stage1/fly
	$(GO) build $(GOFLAGS_BUILD) -o $(STAGE1_BINDIR)/mkimage ./stage1/image/mkimage

$(BUILDDIR)/bin/stage1-nspawn.aci: stage1-binaries
	$(STAGE1_BINDIR)/mkimage -flavor nspawn -version '$(VERSION)' \
		-nspawn-bin $(STAGE1_BINDIR)/nspawn-stage1 -supervisor-bin $(STAGE1_BINDIR)/supervisor -o $@

$(BUILDDIR)/bin/stage1-fly.aci: stage1-binaries
	$(STAGE1_BINDIR)/mkimage -flavor fly -version '$(VERSION)' -fly-bin $(STAGE1_BINDIR)/fly-stage1 -o $@

# Shell completion generated by the binary itself (cobra). A copy of the
# bash one is committed in dist/bash_completion/ for installs without a build.
completion: rkt
	@mkdir -p $(COMPLETION_DIR)
	$(RKT) completion bash >$(COMPLETION_DIR)/rkt.bash.tmp && mv -f $(COMPLETION_DIR)/rkt.bash.tmp $(COMPLETION_DIR)/rkt.bash
	$(RKT) completion zsh >$(COMPLETION_DIR)/_rkt.tmp && mv -f $(COMPLETION_DIR)/_rkt.tmp $(COMPLETION_DIR)/_rkt
	$(RKT) completion fish >$(COMPLETION_DIR)/rkt.fish.tmp && mv -f $(COMPLETION_DIR)/rkt.fish.tmp $(COMPLETION_DIR)/rkt.fish

# A man page per command, from the cobra tree, written by a build of rkt
# with the gendocs tag (the renderer stays out of the rkt binary).
man:
	@mkdir -p $(dir $(GENDOCS))
	$(GO) build $(GOFLAGS_BUILD) -tags gendocs -ldflags '$(LDFLAGS)' -o $(GENDOCS) ./rkt
	rm -rf $(MAN_DIR).tmp
	$(GENDOCS) gen-docs man $(MAN_DIR).tmp
	rm -rf $(MAN_DIR) && mv $(MAN_DIR).tmp $(MAN_DIR)

# The api-service's stubs, committed: protoc (Debian's protobuf-compiler)
# with the protoc-gen-go and protoc-gen-go-grpc versions of the tools
# module, built into build/tools.
# make proto-check regenerates them into build/ and fails when they
# differ from the committed ones.
PROTOC ?= protoc
PROTO_TOOLS := $(BUILDDIR)/tools
PROTO_OUT ?= .
proto:
	@mkdir -p $(PROTO_TOOLS) $(PROTO_OUT)
	cd internal/tools/protoc && $(GO) build -o $(abspath $(PROTO_TOOLS))/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
	$(PROTOC) -I . \
		--plugin=protoc-gen-go=$(PROTO_TOOLS)/protoc-gen-go \
		--plugin=protoc-gen-go-grpc=$(PROTO_TOOLS)/protoc-gen-go-grpc \
		--go_out=$(PROTO_OUT) --go_opt=paths=source_relative \
		--go-grpc_out=$(PROTO_OUT) --go-grpc_opt=paths=source_relative \
		api/v1alpha/api.proto

proto-check:
	rm -rf $(BUILDDIR)/proto-check
	$(MAKE) proto PROTO_OUT=$(BUILDDIR)/proto-check
	diff -u api/v1alpha/api.pb.go $(BUILDDIR)/proto-check/api/v1alpha/api.pb.go
	diff -u api/v1alpha/api_grpc.pb.go $(BUILDDIR)/proto-check/api/v1alpha/api_grpc.pb.go

check: check-unit check-functional

# Every package except the functional suite; then the seccomp compiler
# against libseccomp (cgo and libseccomp-dev, test-only).
check-unit:
	$(GO) test -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '^github.com/rkt/rkt/tests')
	CGO_ENABLED=1 $(GO) test -tags libseccomp -timeout $(TEST_TIMEOUT) -run TestAgainstLibseccomp ./stage1/isolation/seccomp/

# The functional suite drives the built binary; it skips itself when not root.
check-functional: rkt stage1
	@if [ -d tests ]; then \
		echo "RKT_TEST_BINARY=$(abspath $(RKT)) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./tests/..."; \
		RKT_TEST_BINARY=$(abspath $(RKT)) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./tests/...; \
	else echo "check-functional: no tests/ directory"; fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>&1); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	shellcheck -x $(SHELL_SCRIPTS)

demo: rkt
	RKT=$(abspath $(RKT)) ./scripts/demo.sh

bench: rkt
	RKT=$(abspath $(RKT)) ./bench/run.sh

install: rkt stage1 completion man
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(RKT) $(DESTDIR)$(BINDIR)/rkt
	install -d $(DESTDIR)$(STAGE1_IMAGES_DIR)
	for aci in $(STAGE1_ACIS); do install -m 0644 $$aci $(DESTDIR)$(STAGE1_IMAGES_DIR)/; done
	install -d $(DESTDIR)$(LIBDIR)/tmpfiles.d $(DESTDIR)$(LIBDIR)/sysusers.d
	install -m 0644 dist/init/systemd/tmpfiles.d/rkt.conf $(DESTDIR)$(LIBDIR)/tmpfiles.d/rkt.conf
	install -m 0644 dist/init/systemd/sysusers.d/rkt.conf $(DESTDIR)$(LIBDIR)/sysusers.d/rkt.conf
	install -d $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 dist/scripts/setup-data-dir.sh $(DESTDIR)$(LIBEXECDIR)/setup-data-dir.sh
	install -m 0755 $(API_SERVICE) $(DESTDIR)$(LIBEXECDIR)/rkt-api-service
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0644 $(COMPLETION_DIR)/rkt.bash $(DESTDIR)$(BASHCOMPDIR)/rkt
	install -m 0644 $(COMPLETION_DIR)/_rkt $(DESTDIR)$(ZSHCOMPDIR)/_rkt
	install -m 0644 $(COMPLETION_DIR)/rkt.fish $(DESTDIR)$(FISHCOMPDIR)/rkt.fish
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0644 $(MAN_DIR)/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -d $(DESTDIR)$(LIBDIR)/systemd/system
	# rkt-gc.service names the rkt binary: the installed one.
	sed 's|/usr/local/bin/rkt|$(BINDIR)/rkt|g' dist/init/systemd/rkt-gc.service >$(DESTDIR)$(LIBDIR)/systemd/system/rkt-gc.service
	chmod 0644 $(DESTDIR)$(LIBDIR)/systemd/system/rkt-gc.service
	install -m 0644 dist/init/systemd/rkt-gc.timer $(DESTDIR)$(LIBDIR)/systemd/system/
	# So do rkt-api.service and rkt-metadata.service.
	sed 's|/usr/local/bin/rkt|$(BINDIR)/rkt|g' dist/init/systemd/rkt-api.service >$(DESTDIR)$(LIBDIR)/systemd/system/rkt-api.service
	chmod 0644 $(DESTDIR)$(LIBDIR)/systemd/system/rkt-api.service
	install -m 0644 dist/init/systemd/rkt-api-tcp.socket $(DESTDIR)$(LIBDIR)/systemd/system/
	sed 's|/usr/local/bin/rkt|$(BINDIR)/rkt|g' dist/init/systemd/rkt-metadata.service >$(DESTDIR)$(LIBDIR)/systemd/system/rkt-metadata.service
	chmod 0644 $(DESTDIR)$(LIBDIR)/systemd/system/rkt-metadata.service
	install -m 0644 dist/init/systemd/rkt-metadata.socket $(DESTDIR)$(LIBDIR)/systemd/system/
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 $(addprefix dist/init/systemd/examples/,$(DIST_EXAMPLES)) $(DESTDIR)$(DOCDIR)/examples/

# Removes the files install wrote, then the directories only rkt uses when
# they are empty. The man pages are those of build/man, else rkt.1 and
# rkt-*.1.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rkt \
		$(foreach a,$(STAGE1_ACIS),$(DESTDIR)$(STAGE1_IMAGES_DIR)/$(notdir $(a))) \
		$(DESTDIR)$(LIBDIR)/tmpfiles.d/rkt.conf \
		$(DESTDIR)$(LIBDIR)/sysusers.d/rkt.conf \
		$(DESTDIR)$(LIBDIR)/systemd/system/rkt-gc.service \
		$(DESTDIR)$(LIBDIR)/systemd/system/rkt-gc.timer \
		$(DESTDIR)$(LIBDIR)/systemd/system/rkt-api.service \
		$(DESTDIR)$(LIBDIR)/systemd/system/rkt-api-tcp.socket \
		$(DESTDIR)$(LIBDIR)/systemd/system/rkt-metadata.service \
		$(DESTDIR)$(LIBDIR)/systemd/system/rkt-metadata.socket \
		$(DESTDIR)$(LIBEXECDIR)/setup-data-dir.sh \
		$(DESTDIR)$(LIBEXECDIR)/rkt-api-service \
		$(DESTDIR)$(BASHCOMPDIR)/rkt \
		$(DESTDIR)$(ZSHCOMPDIR)/_rkt \
		$(DESTDIR)$(FISHCOMPDIR)/rkt.fish \
		$(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(DIST_EXAMPLES))
	if [ -d $(MAN_DIR) ]; then \
		cd $(MAN_DIR) && for m in *.1; do rm -f $(DESTDIR)$(MANDIR)/man1/$$m; done; \
	else \
		rm -f $(DESTDIR)$(MANDIR)/man1/rkt.1 $(DESTDIR)$(MANDIR)/man1/rkt-*.1; \
	fi
	-rmdir $(DESTDIR)$(STAGE1_IMAGES_DIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null
	-rmdir $(DESTDIR)$(PREFIX)/lib/rkt 2>/dev/null

# The Debian package: make install with PREFIX=/usr into a staging root
# (with its own rkt binary, so build/bin/rkt keeps this build's paths),
# plus the control files of dist/deb/. Only dpkg-deb is needed.
DEB_ROOT := $(BUILDDIR)/deb/root
DEB_ARCH = $(shell $(GO) env GOARCH | sed 's/^386$$/i386/; s/^arm$$/armhf/')
DEB_VERSION = $(shell printf '%s' '$(VERSION)' | sed 's/-/+/g; s/^[^0-9]/0&/')
DEB := $(BUILDDIR)/rkt_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_MAINTAINER ?= rkt packagers <packaging@rkt.invalid>
# xz as Debian's own packages; zstd or gzip build much faster.
DEB_COMPRESS ?= xz

deb:
	rm -rf $(BUILDDIR)/deb $(BUILDDIR)/rkt_*.deb
	$(MAKE) install PREFIX=/usr DESTDIR=$(abspath $(DEB_ROOT)) RKT=$(BUILDDIR)/deb/bin/rkt
	install -d $(DEB_ROOT)/DEBIAN
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' -e 's/@MAINTAINER@/$(DEB_MAINTAINER)/' \
		-e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)/" \
		dist/deb/control >$(DEB_ROOT)/DEBIAN/control
	install -m 0755 dist/deb/postinst dist/deb/prerm dist/deb/postrm $(DEB_ROOT)/DEBIAN/
	dpkg-deb --root-owner-group -Z$(DEB_COMPRESS) --build $(DEB_ROOT) $(DEB)
	@echo "wrote $(DEB)"

# The demo leaves a data dir under build/demo; scripts/demo.sh knows how to
# remove it safely, so clean asks it first.
clean:
	@if [ -d $(BUILDDIR)/demo ]; then ./scripts/demo.sh --clean; fi
	rm -rf $(BUILDDIR)

distclean: clean
