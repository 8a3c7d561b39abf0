# ngx_http_woportal_module: build, run and test.
#
#   make run       install what is missing, build nginx with the module,
#                  start memcached and nginx on 127.0.0.1:$(PORT)
#   make stop      stop what make run started
#   make test      the whole Test::Nginx suite (starts its own memcached)
#   make dynamic   the module as a .so for Debian's packaged nginx
#   make deb       the Debian package libnginx-mod-http-woportal, in
#                  build/deb/ (debian/, built with dh against nginx-dev)
#
# A build (make, make nginx, make dynamic, make deb) installs only what it
# compiles with; make run and make test also install the servers they use
# (util/deps.sh).  With WOPORTAL_REQUIRE_DEB=1 (CI), make test builds the
# package and t/180-deb.t installs it into this system's nginx, uses it
# and purges it again.
#
#   make key       a new API key, and its line for a woportal_api_keys file:
#                  make -s key NAME=acme NAMESPACES=acme >> keys.txt

PORT           ?= 8080
MEMCACHED_PORT ?= 11211
MEMCACHED_MB   ?= 1024
API_KEY        ?=
KEYS_FILE      ?=
NAME           ?=
NAMESPACES     ?= *

NGINX_VERSION   = 1.22.1
NGINX_BUILD     = build/nginx
NGINX           = $(NGINX_BUILD)/nginx-$(NGINX_VERSION)/objs/nginx
# --with-debug, for t/152 alone: the suite's nginx logs no request headers
DEBUG_BUILD     = build/debug
DYNAMIC_BUILD   = build/dynamic
DYNAMIC_MODULE  = $(DYNAMIC_BUILD)/ngx_http_woportal_module.so
DEB_BUILD       = build/deb

SOURCES = config ngx_http_woportal_module.c $(wildcard src/*.c src/*.h sql/*/*.sql) \
          contract/openapi.yaml util/openapi-c.pl

export PORT MEMCACHED_PORT MEMCACHED_MB API_KEY KEYS_FILE

.PHONY: all deps deps-run deps-test nginx nginx-debug run stop test \
        test-dynamic dynamic deb key clean

all: nginx

deps:
	@util/deps.sh build

deps-run:
	@util/deps.sh run

deps-test:
	@util/deps.sh test

nginx: deps
	@util/build-nginx.sh $(NGINX_BUILD) >/dev/null
	@echo "built $(NGINX)"

nginx-debug: deps
	@util/build-nginx.sh $(DEBUG_BUILD) --with-debug >/dev/null

run: deps-run nginx
	@util/run.sh start $(NGINX)

stop:
	@util/run.sh stop

test: deps-test nginx nginx-debug dynamic $(if $(WOPORTAL_REQUIRE_DEB),deb)
	@util/test.sh $(NGINX) $(PROVE_ARGS)

dynamic:
	@util/deps.sh dynamic
	@util/build-dynamic.sh $(DYNAMIC_BUILD)

deb:
	@util/deps.sh deb
	@util/build-deb.sh $(DEB_BUILD)

key:
	@util/key.sh "$(NAME)" "$(NAMESPACES)"

clean:
	rm -rf build t/servroot


# Fuzzing and sanitizers (DEVELOPING.md: "Fuzzing and sanitizers")
#
#   make fuzz        build the libFuzzer harnesses of fuzz/ (clang, ASan,
#                    UBSan) and run each for FUZZ_SECONDS (0: the seeds only)
#   make test-asan   the whole t/ suite against nginx built with
#                    -fsanitize=address,undefined; fails on any report

FUZZ_SECONDS ?= 60
ASAN_BUILD    = build/asan
ASAN_NGINX    = $(ASAN_BUILD)/nginx-$(NGINX_VERSION)/objs/nginx
ASAN_CC_OPT   = -fsanitize=address,undefined -fno-omit-frame-pointer -O1 -g \
                -DNGX_DEBUG_PALLOC=1 -Wno-string-concatenation
ASAN_LD_OPT   = -fsanitize=address,undefined

.PHONY: fuzz test-asan

fuzz:
	@fuzz/build.sh build/fuzz
	@fuzz/run.sh $(FUZZ_SECONDS)

test-asan: deps-test
	@fuzz/deps-clang.sh
	@util/build-nginx.sh $(ASAN_BUILD) --with-cc=clang \
	    --with-cc-opt="$(ASAN_CC_OPT)" --with-ld-opt="$(ASAN_LD_OPT)" \
	    >/dev/null
	@fuzz/test-asan.sh $(ASAN_NGINX) $(PROVE_ARGS)


# The suite under valgrind (DEVELOPING.md: "Tests")
#
#   make test-valgrind   the t/ files that do not measure time or load,
#                        nginx under valgrind's memcheck; fails on any
#                        report valgrind.suppress does not name.  About
#                        20 minutes: not in CI

.PHONY: test-valgrind

test-valgrind: deps-test nginx
	@util/deps.sh valgrind
	@util/test-valgrind.sh $(NGINX) $(PROVE_ARGS)


# The benchmark (DEVELOPING.md: "Benchmarks")
#
#   make bench     build nginx with the module optimised (-O2, no debug
#                  log) into build/bench/ and run bench/bench.sh: wrk
#                  against its own nginx and memcached, the table in
#                  BENCHMARKS.md; BENCH_QUICK=1 for the short run (its
#                  table in build/bench/BENCHMARKS-quick.md); then
#                  bench/writes.sh: writes with SQLite and PostgreSQL
#                  (sync) beside memcached alone, at 64 and 1,024
#                  connections
#   make bench-writes   the writes alone
#   make bench-lists    the figures of the lists alone (issue 18), to
#                  iterate on them: lists at 64 connections and at 1,
#                  GET /{id} during lists, the mixed run of lists and
#                  writes (a minute; BENCH_MIXED_DURATION=600 for the
#                  issue's); build/bench/BENCHMARKS-lists.md

BENCH_BUILD = build/bench
BENCH_NGINX = $(BENCH_BUILD)/nginx-$(NGINX_VERSION)/objs/nginx

.PHONY: bench bench-nginx bench-writes bench-lists

bench: bench-nginx
	@bench/bench.sh $(BENCH_NGINX)
	@bench/writes.sh $(BENCH_NGINX)

bench-writes: bench-nginx
	@bench/writes.sh $(BENCH_NGINX)

bench-lists: bench-nginx
	@BENCH_LISTS=1 bench/bench.sh $(BENCH_NGINX)

bench-nginx: deps-run deps-test
	@util/build-nginx.sh $(BENCH_BUILD) --with-cc-opt=-O2 >/dev/null
