# ngx_http_woportal_module: build, run and test.
#
#   make run       install what is missing, build nginx with the module,
#                  start memcached and nginx on 127.0.0.1:$(PORT)
#   make stop      stop what make run started
#   make test      the whole Test::Nginx suite (starts its own memcached)
#   make dynamic   the module as a .so for Debian's packaged nginx

PORT           ?= 8080
MEMCACHED_PORT ?= 11211
MEMCACHED_MB   ?= 1024
API_KEY        ?=

NGINX_VERSION   = 1.22.1
NGINX_BUILD     = build/nginx
NGINX           = $(NGINX_BUILD)/nginx-$(NGINX_VERSION)/objs/nginx
DYNAMIC_BUILD   = build/dynamic
DYNAMIC_MODULE  = $(DYNAMIC_BUILD)/ngx_http_woportal_module.so

SOURCES = config ngx_http_woportal_module.c $(wildcard src/*.c src/*.h sql/*/*.sql)

export PORT MEMCACHED_PORT MEMCACHED_MB API_KEY

.PHONY: all deps nginx run stop test test-dynamic dynamic clean

all: nginx

deps:
	@util/deps.sh

nginx: deps
	@util/build-nginx.sh $(NGINX_BUILD) >/dev/null
	@echo "built $(NGINX)"

run: nginx
	@util/run.sh start $(NGINX)

stop:
	@util/run.sh stop

test: nginx dynamic
	@util/test.sh $(NGINX) $(PROVE_ARGS)

dynamic: deps
	@util/build-dynamic.sh $(DYNAMIC_BUILD)

clean:
	rm -rf build t/servroot
