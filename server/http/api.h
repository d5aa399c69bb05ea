/* SPDX-License-Identifier: MIT */
/* api.h - the endpoint handlers, called by http.c once a request's body is complete (and
 * again after a suspended request is resumed). Each queues a response or suspends. */
#ifndef CONVERTD_SERVER_HTTP_API_H
#define CONVERTD_SERVER_HTTP_API_H

#include <microhttpd.h>

#include "common/err.h"

struct request;
struct process;

enum MHD_Result api_create(struct MHD_Connection *c, struct request *r);
enum MHD_Result api_start(struct MHD_Connection *c, struct request *r);
enum MHD_Result api_convert(struct MHD_Connection *c, struct request *r);
enum MHD_Result api_status(struct MHD_Connection *c, struct request *r);
enum MHD_Result api_delete(struct MHD_Connection *c, struct request *r);
enum MHD_Result api_upload(struct MHD_Connection *c, struct request *r);
enum MHD_Result api_download(struct MHD_Connection *c, struct request *r);
enum MHD_Result api_processes(struct MHD_Connection *c, struct request *r);
enum MHD_Result api_conversiontypes(struct MHD_Connection *c, struct request *r);
enum MHD_Result api_user(struct MHD_Connection *c, struct request *r);

/* Called on the first handler call of an upload (headers read, no body yet): checks the
 * token and the process state so a bad upload is refused before its body is read. */
int api_upload_precheck(struct MHD_Connection *c, struct request *r, struct err *err);

/* Suspend r until process p (loaded by the caller, not final) ends or the wait deadline
 * passes; the handler runs again then. */
enum MHD_Result api_suspend(struct MHD_Connection *c, struct request *r, const struct process *p);

/* Reply with a process's status (200, or 400/422 with "code" and "error" for a failed one).*/
enum MHD_Result api_reply_status(struct MHD_Connection *c, const struct process *p);

#endif
