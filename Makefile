# xenpair — the two commands of the README do all the set-up on a fresh Debian bookworm (root):
#   make demo   create a real pair on this machine under /var/tmp/xenpair-demo
#   make web-demo   the self-service pages on 127.0.0.1:8080 with that demo site
#   make test   the whole test suite (.ci/run calls it)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
DEMO_DIR ?= /var/tmp/xenpair-demo
TEST_CACHE ?= /var/cache/xenpair-test
# the Debian mirror this machine's apt already uses; `make test MIRROR=URL` overrides it
MIRROR ?= $(shell tests/tools/apt-mirror bookworm)
# --no-install-recommends: with Recommends, xen-tools pulls in the hypervisor and grub-xen-host,
# which changes this machine's boot menu.
# qemu-system-x86: the tests boot built guests under QEMU in place of Xen (tests/tools/qemu-xl)
# chromium: the browser the web tests drive with Playwright (Debian's, never a downloaded one)
APT_PACKAGES = xen-tools debootstrap e2fsprogs util-linux openssh-server openssh-client \
               libxenmisc4.17 python3-venv ca-certificates msmtp-mta openssl shellcheck \
               qemu-system-x86 iproute2 chromium \
               dh-virtualenv debhelper dpkg-dev fakeroot build-essential python3-dev lintian

.PHONY: all deps venv lint test aptcache demo demo-dir web-demo bench clean-demo deb test-debs
all: test

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,web]' --config-settings editable_mode=compat  # no import hook: faster start-up
	touch $@

venv: $(VENV)/.installed

# one golden image for the tests and the demo, made by `xenpair image build` itself (debootstrap,
# about 2 minutes, once) into the test cache's own image store
$(TEST_CACHE)/images/.bookworm-built: | deps venv
	mkdir -p -m 0700 $(TEST_CACHE)
	printf 'log_dir: %s/logs\nimages: {dir: %s/images}\nbackup: {host: local}\n' $(TEST_CACHE) $(TEST_CACHE) \
	  >$(TEST_CACHE)/image-cache.yaml
	$(VENV)/bin/xenpair --config $(TEST_CACHE)/image-cache.yaml image build bookworm --host hosting --mirror $(MIRROR)
	touch $@

# the Ganeti virtual cluster's root (Debian's ganeti in a debootstrapped bookworm, about 40 s once)
$(TEST_CACHE)/ganeti-chroot: | deps
	mkdir -p -m 0700 $(TEST_CACHE)
	tests/tools/make-ganeti-chroot $@ $(MIRROR)

# the tests unpack that image's root (newest version) as their guests' root
$(TEST_CACHE)/bookworm-rootfs.tar: $(TEST_CACHE)/images/.bookworm-built
	ln -f "$$(ls $(TEST_CACHE)/images/bookworm/*.tar | tail -n 1)" $@

# /var/tmp is writable by every user: refuse a demo folder someone else made (or a symlink)
demo-dir:
	@mkdir -p -m 0700 $(DEMO_DIR); \
	if [ -L $(DEMO_DIR) ] || [ "$$(stat -c %u $(DEMO_DIR))" != "$$(id -u)" ] || \
	   [ -n "$$(find $(DEMO_DIR) -maxdepth 0 -perm /022)" ]; then \
	  echo "$(DEMO_DIR) is not $$(id -un)'s own folder (owner, mode or symlink): refusing to use it;" \
	       "remove it or set DEMO_DIR=" >&2; exit 2; fi

# the demo's own image store gets the test cache's newest image (tar and manifest; a hard link
# where it can): the demo's create installs from it as a site's create does
$(DEMO_DIR)/images/.bookworm-linked: $(TEST_CACHE)/images/.bookworm-built | demo-dir
	mkdir -p -m 0700 $(DEMO_DIR)/images/bookworm
	tar=$$(ls $(TEST_CACHE)/images/bookworm/*.tar | tail -n 1); \
	for f in "$$tar" "$${tar%.tar}.json"; do \
	  ln -f "$$f" $(DEMO_DIR)/images/bookworm/ 2>/dev/null || cp "$$f" $(DEMO_DIR)/images/bookworm/; done
	touch $@

# the Debian packages (xenpair_VERSION_amd64.deb, xenpair-web_VERSION_all.deb) from a clean
# export of the committed tree (git archive HEAD: never what happens to lie in the work tree),
# built with dpkg-buildpackage (dh-virtualenv fetches the Python libraries from PyPI) into DEB_OUT
DEB_OUT ?= dist
deb: deps
	@set -e; work=$$(mktemp -d /tmp/xenpair-deb.XXXXXX); trap 'rm -rf "$$work"' EXIT; \
	  git archive --format=tar --prefix=xenpair/ HEAD | tar -x -C "$$work"; \
	  (cd "$$work/xenpair" && dpkg-buildpackage -us -uc -b); \
	  mkdir -p $(DEB_OUT); cp "$$work"/*.deb $(DEB_OUT)/; ls -l $(DEB_OUT)/*.deb

lint: venv
	$(VENV)/bin/ruff check xenpair tests bench

test: deps venv $(TEST_CACHE)/bookworm-rootfs.tar aptcache $(TEST_CACHE)/ganeti-chroot lint test-debs
	XENPAIR_TEST_ROOTFS=$(TEST_CACHE)/bookworm-rootfs.tar XENPAIR_TEST_APT=$(TEST_CACHE)/apt \
	  XENPAIR_TEST_GANETI_CHROOT=$(TEST_CACHE)/ganeti-chroot XENPAIR_TEST_DEBS=$(TEST_DEBS) $(VENV)/bin/pytest

# the packages of the committed tree, built here (the tests run without a network: the build
# fetches from PyPI) once per commit (about 2 minutes)
TEST_DEBS = $(TEST_CACHE)/deb/$(shell git rev-parse HEAD)
test-debs: deps
	@if [ ! -f $(TEST_DEBS)/.built ]; then \
	  rm -rf $(TEST_CACHE)/deb && $(MAKE) --no-print-directory deb DEB_OUT=$(TEST_DEBS) && touch $(TEST_DEBS)/.built; \
	fi

# what apt fetches to install the roles' packages, recorded once (the tests replay it offline);
# the tool skips the work when its record still matches the rootfs and the package lists
aptcache: venv $(TEST_CACHE)/bookworm-rootfs.tar
	$(VENV)/bin/python tests/tools/make-aptcache $(TEST_CACHE)/apt $(TEST_CACHE)/bookworm-rootfs.tar $(MIRROR)

# xenpair's parsed-config cache goes with the rest of the demo, not to ~/.cache
demo: export XDG_CACHE_HOME = $(DEMO_DIR)/cache
demo: deps venv demo-dir $(DEMO_DIR)/images/.bookworm-linked
	mkdir -p $(DEMO_DIR)/xen
	$(VENV)/bin/xenpair --config xenpair/examples/demo.yaml create package1 \
	  demo$$(date +%Y%m%d%H%M%S) --yes --no-mail
	$(VENV)/bin/xenpair --config xenpair/examples/demo.yaml list

bench: deps venv $(TEST_CACHE)/bookworm-rootfs.tar aptcache $(TEST_CACHE)/ganeti-chroot
	XENPAIR_TEST_ROOTFS=$(TEST_CACHE)/bookworm-rootfs.tar $(VENV)/bin/python bench/startup.py
	XENPAIR_TEST_ROOTFS=$(TEST_CACHE)/bookworm-rootfs.tar $(VENV)/bin/python bench/pair.py
	$(VENV)/bin/python bench/roles.py --rootfs $(TEST_CACHE)/bookworm-rootfs.tar --apt $(TEST_CACHE)/apt
	$(VENV)/bin/python bench/registry.py
	$(VENV)/bin/python bench/completion.py
	XENPAIR_TEST_ROOTFS=$(TEST_CACHE)/bookworm-rootfs.tar $(VENV)/bin/python bench/ready.py
	$(VENV)/bin/python bench/images.py --mirror $(MIRROR)
	XENPAIR_TEST_ROOTFS=$(TEST_CACHE)/bookworm-rootfs.tar $(VENV)/bin/python bench/web.py
	XENPAIR_TEST_ROOTFS=$(TEST_CACHE)/bookworm-rootfs.tar XENPAIR_TEST_GANETI_CHROOT=$(TEST_CACHE)/ganeti-chroot \
	  $(VENV)/bin/python bench/ganeti.py

# the self-service pages on 127.0.0.1 with the demo site: credentials printed, builds for real
WEB_LISTEN ?= 127.0.0.1:8080
web-demo: export XDG_CACHE_HOME = $(DEMO_DIR)/cache
web-demo: deps venv demo-dir $(DEMO_DIR)/images/.bookworm-linked
	mkdir -p $(DEMO_DIR)/xen
	{ cat xenpair/examples/demo.yaml; \
	  echo "web:"; \
	  echo "  database: $(DEMO_DIR)/web/db.sqlite3"; \
	  echo "  secret_key_file: $(DEMO_DIR)/web/secret_key"; \
	  echo "  static_dir: $(DEMO_DIR)/web/static"; \
	  echo "  allowed_hosts: [127.0.0.1, localhost]"; \
	  echo "  start: false                 # no Xen hypervisor here: build only, like make demo"; \
	} > $(DEMO_DIR)/web-demo.yaml
	tests/tools/web-demo $(VENV)/bin/xenpair $(DEMO_DIR)/web-demo.yaml $(WEB_LISTEN)

clean-demo:
	rm -rf $(DEMO_DIR)
