/* SPDX-License-Identifier: MIT */
/* registry.h - the converters compiled in, and lookups over their tables. */
#ifndef CONVERTD_CONVERTERS_REGISTRY_H
#define CONVERTD_CONVERTERS_REGISTRY_H

#include <stdbool.h>

#include "converters/converter.h"

/* Register the deterministic test converter ("fake"); off unless `serve --test-converters`.
 * Call before any lookup. */
void registry_enable_test_converters(bool on);

/* NULL-terminated list of enabled converters, best first (borrowed, static). */
const struct converter *const *registry_list(void);

/* Best enabled converter for in -> out in mode, or NULL. Names must be canonical
 * (formats.h). In INFO mode out is ignored. For COMBINE/ARCHIVE/EXTRACT the pair must be
 * listed and the mode bit set. */
const struct converter *registry_find(const char *in, const char *out, unsigned mode);

/* True when some enabled converter accepts in as input in mode (create without
 * outputformat). */
bool registry_has_input(const char *in, unsigned mode);

/* The converter with that name, or NULL. */
const struct converter *registry_by_name(const char *name);

/* The group ("image", ...) of the pair in -> out of conv, or NULL. */
const char *registry_pair_group(const struct converter *conv, const char *in, const char *out);

/* Call init() of every converter once (in a worker). Converters whose init fails are
 * disabled in this process; their names are logged. */
void registry_init_all(void);

/* The names of the converters whose init() failed in this process, NULL-terminated (static;
 * valid until the next call). A worker reports them in its ready line. */
const char *const *registry_disabled_names(void);

/* In the server: disable a converter that a worker could not initialise (its helper program
 * is missing, say), so /conversiontypes stops listing it and processes for its pairs are
 * refused at creation. True when this changed the list. */
bool registry_disable(const char *name);

#endif
