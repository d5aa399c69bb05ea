/* SPDX-License-Identifier: MIT */
/* addr.h - which socket addresses an outbound connection may reach (security.md SEC-02).
 * The decision is made on the connected address, never on a host name. */
#ifndef CONVERTD_STORAGE_ADDR_H
#define CONVERTD_STORAGE_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

#include "common/err.h"

/* True when sa (AF_INET or AF_INET6) is a public unicast address: not loopback, private,
 * shared (100.64/10), link-local, metadata, documentation, benchmark, multicast, reserved,
 * unspecified or broadcast; IPv4-embedding IPv6 forms (::/96, ::ffff:0:0/96, 64:ff9b::/96,
 * 64:ff9b:1::/48, 2002::/16, 2001::/32, ISATAP interface ids) are refused wholesale. */
bool addr_is_public(const struct sockaddr *sa);

/* Operator allow-list entries: "CIDR" (10.0.0.0/8, fd00::/8, 192.168.1.5) or
 * "HOST:PORT" / "[V6]:PORT" with a literal address. */
struct addr_allow;

/* Parse one entry and append it to *list (created on first use). -1 with ERR_BADPARAM. */
int addr_allow_add(struct addr_allow **list, const char *spec, struct err *err);
/* True when sa matches an entry (CIDR: any port; HOST:PORT: that address and port). */
bool addr_allow_match(const struct addr_allow *list, const struct sockaddr *sa);
void addr_allow_free(struct addr_allow *list);

#endif
