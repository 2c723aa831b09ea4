# mqttctl: build, install, test.
#
#   make                      release binary (.build/release/mqttctl)
#   make install              binary, man page, bash/zsh/fish completions under PREFIX
#   make uninstall            removes exactly what install put there
#   make install-compat       install, plus mosquitto_pub/_sub/_rr links to mqttctl in COMPATDIR
#   make uninstall-compat     removes those links (and COMPATDIR when empty)
#   make test                 scripts/test (installs what is missing, runs the suite)
#   make bench                bench/run (mqttctl next to mosquitto's clients)
#   make demo                 scripts/demo
#   make man                  regenerates man/mqttctl.1 from the commands
#   make clean
#
# PREFIX (/usr/local), DESTDIR (staging root) and the directories below follow the
# GNU conventions and can be overridden: make install PREFIX=/usr DESTDIR=/tmp/pkg
#
# `install` builds only when the binary is missing or older than a source file,
# so `make && sudo make install` does not rebuild as root.

SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
# Drop-in links, in a directory of their own: never over mosquitto-clients' files.
# Put it first on PATH to run a mosquitto script with mqttctl behind it.
COMPATDIR ?= $(PREFIX)/lib/mqttctl/compat
COMPAT := mosquitto_pub mosquitto_sub mosquitto_rr

INSTALL ?= install

# The shipped binary: optimised, Swift standard library linked statically (it
# starts about twice as fast as a dynamically linked one), code laid out for
# start-up (scripts/build-release says how).
BINARY := .build/release/mqttctl
SOURCES := Package.swift scripts/build-release scripts/startup-order/hot-text.ld \
	$(wildcard scripts/release-libraries/*.so) \
	$(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h' -o -name '*.modulemap')
COMPLETIONS := .build/completions/mqttctl.bash .build/completions/_mqttctl .build/completions/mqttctl.fish

.PHONY: all build install uninstall install-compat uninstall-compat test bench demo man clean help

all: build

build: $(BINARY)

# The binary is removed first: swift build does not know that the link depends
# on the linker script, and would not link again for a new one.
$(BINARY): $(SOURCES)
	rm -f $(BINARY)
	SWIFT=$(SWIFT) scripts/build-release
	@touch $@

.build/completions/mqttctl.bash: $(BINARY)
	@mkdir -p $(@D)
	$(BINARY) --generate-completion-script bash > $@

.build/completions/_mqttctl: $(BINARY)
	@mkdir -p $(@D)
	$(BINARY) --generate-completion-script zsh > $@

.build/completions/mqttctl.fish: $(BINARY)
	@mkdir -p $(@D)
	$(BINARY) --generate-completion-script fish > $@

install: $(BINARY) $(COMPLETIONS)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(INSTALL) -m 755 -s $(BINARY) $(DESTDIR)$(BINDIR)/mqttctl
	$(INSTALL) -m 644 man/mqttctl.1 $(DESTDIR)$(MANDIR)/man1/mqttctl.1
	$(INSTALL) -m 644 .build/completions/mqttctl.bash $(DESTDIR)$(BASHCOMPDIR)/mqttctl
	$(INSTALL) -m 644 .build/completions/_mqttctl $(DESTDIR)$(ZSHCOMPDIR)/_mqttctl
	$(INSTALL) -m 644 .build/completions/mqttctl.fish $(DESTDIR)$(FISHCOMPDIR)/mqttctl.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mqttctl \
		$(DESTDIR)$(MANDIR)/man1/mqttctl.1 \
		$(DESTDIR)$(BASHCOMPDIR)/mqttctl \
		$(DESTDIR)$(ZSHCOMPDIR)/_mqttctl \
		$(DESTDIR)$(FISHCOMPDIR)/mqttctl.fish

install-compat: install
	$(INSTALL) -d $(DESTDIR)$(COMPATDIR)
	for c in $(COMPAT); do ln -sfn $(BINDIR)/mqttctl $(DESTDIR)$(COMPATDIR)/$$c; done

uninstall-compat:
	for c in $(COMPAT); do rm -f $(DESTDIR)$(COMPATDIR)/$$c; done
	-rmdir $(DESTDIR)$(COMPATDIR) $(DESTDIR)$(PREFIX)/lib/mqttctl 2>/dev/null

test:
	scripts/test

bench:
	bench/run

demo:
	scripts/demo

man:
	scripts/update-man

clean:
	rm -rf .build

help:
	@sed -n '2,14p' Makefile | sed 's/^# \{0,1\}//'
