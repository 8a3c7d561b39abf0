
/*
 * The module's version: the one place it is written.  Shown in the
 * error log at start, in the woportal_build_info metric and as
 * openapi.json's info.version; CHANGES has an entry for it, and
 * `make deb` versions the package after it.
 */


#ifndef _NGX_HTTP_WOPORTAL_VERSION_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_VERSION_H_INCLUDED_


#define NGX_HTTP_WOPORTAL_VERSION  "1.0.0"


#endif /* _NGX_HTTP_WOPORTAL_VERSION_H_INCLUDED_ */
