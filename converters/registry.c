/* SPDX-License-Identifier: MIT */
/* registry.c - the converters compiled in (FFmpeg's allcodecs.c shape) and lookups. */
#include "convertd-config.h"

#include "converters/registry.h"

#include <pthread.h>
#include <string.h>

#include "common/log.h"

#if HAVE_VIPS
extern const struct converter converter_vips;
#endif
#if HAVE_FFMPEG
extern const struct converter converter_ffmpeg;
#endif
#if HAVE_QPDF
extern const struct converter converter_ghostscript;
extern const struct converter converter_qpdf;
#endif
extern const struct converter converter_office;
extern const struct converter converter_chromium;
extern const struct converter converter_archive;
extern const struct converter converter_fake;

static const struct converter *const converters[] = {
#if HAVE_VIPS
    &converter_vips,
#endif
#if HAVE_FFMPEG
    &converter_ffmpeg,
#endif
#if HAVE_QPDF
    &converter_ghostscript,
    &converter_qpdf,
#endif
    &converter_office,
    &converter_chromium,
    &converter_archive,
    &converter_fake, /* only with registry_enable_test_converters(true) */
    NULL,
};

#define N_CONVERTERS (sizeof converters / sizeof converters[0] - 1)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool test_converters;
static bool initialised[N_CONVERTERS];
static bool init_failed[N_CONVERTERS];
/* Enabled converters, best first. Rebuilt only by the two setters, which run at startup
 * before any lookup; lookups then read it without locking. */
static const struct converter *enabled[N_CONVERTERS + 1];
static bool enabled_built;

static bool is_enabled(size_t i)
{
    if (init_failed[i])
        return false;
    return converters[i] != &converter_fake || test_converters;
}

static void rebuild_locked(void)
{
    size_t n = 0;
    for (size_t i = 0; i < N_CONVERTERS; i++) {
        if (!is_enabled(i))
            continue;
        /* Insertion by priority, stable for equal priorities (array order). */
        size_t j = n;
        while (j > 0 && enabled[j - 1]->priority < converters[i]->priority) {
            enabled[j] = enabled[j - 1];
            j--;
        }
        enabled[j] = converters[i];
        n++;
    }
    enabled[n] = NULL;
    enabled_built = true;
}

void registry_enable_test_converters(bool on)
{
    pthread_mutex_lock(&lock);
    test_converters = on;
    rebuild_locked();
    pthread_mutex_unlock(&lock);
}

const struct converter *const *registry_list(void)
{
    pthread_mutex_lock(&lock);
    if (!enabled_built)
        rebuild_locked();
    pthread_mutex_unlock(&lock);
    return enabled;
}

/* A pair's format matches a name when equal, or when the pair says "*" (any format). */
static bool format_matches(const char *pattern, const char *name)
{
    return strcmp(pattern, "*") == 0 || strcmp(pattern, name) == 0;
}

static bool pair_listed(const struct converter *conv, const char *in, const char *out)
{
    for (const struct conv_pair *p = conv->pairs; p && p->in; p++)
        if (format_matches(p->in, in) && (!out || format_matches(p->out, out)))
            return true;
    return false;
}

const struct converter *registry_find(const char *in, const char *out, unsigned mode)
{
    if (!in || !mode)
        return NULL;
    /* In INFO mode a converter offers info for every input it lists. */
    if (mode == CONV_MODE_INFO)
        out = NULL;
    else if (!out)
        return NULL;
    for (const struct converter *const *c = registry_list(); *c; c++)
        if (((*c)->modes & mode) == mode && pair_listed(*c, in, out))
            return *c;
    return NULL;
}

bool registry_has_input(const char *in, unsigned mode)
{
    if (!in || !mode)
        return false;
    for (const struct converter *const *c = registry_list(); *c; c++)
        if (((*c)->modes & mode) == mode && pair_listed(*c, in, NULL))
            return true;
    return false;
}

const struct converter *registry_by_name(const char *name)
{
    if (!name)
        return NULL;
    for (const struct converter *const *c = registry_list(); *c; c++)
        if (strcmp((*c)->name, name) == 0)
            return *c;
    return NULL;
}

const char *registry_pair_group(const struct converter *conv, const char *in, const char *out)
{
    if (!conv || !in)
        return NULL;
    for (const struct conv_pair *p = conv->pairs; p && p->in; p++)
        if (format_matches(p->in, in) && (!out || format_matches(p->out, out)))
            return p->group;
    return NULL;
}

void registry_init_all(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < N_CONVERTERS; i++) {
        if (initialised[i] || !is_enabled(i))
            continue;
        initialised[i] = true;
        if (!converters[i]->init)
            continue;
        struct err err = ERR_INIT;
        if (converters[i]->init(&err) < 0) {
            init_failed[i] = true;
            log_warn("converter %s disabled: %s", converters[i]->name,
                     err.msg[0] ? err.msg : "init failed");
        }
    }
    rebuild_locked();
    pthread_mutex_unlock(&lock);
}

const char *const *registry_disabled_names(void)
{
    static const char *names[N_CONVERTERS + 1];
    size_t n = 0;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < N_CONVERTERS; i++)
        if (init_failed[i])
            names[n++] = converters[i]->name;
    names[n] = NULL;
    pthread_mutex_unlock(&lock);
    return names;
}

bool registry_disable(const char *name)
{
    bool changed = false;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; name && i < N_CONVERTERS; i++) {
        if (strcmp(converters[i]->name, name) == 0 && !init_failed[i]) {
            init_failed[i] = true;
            changed = true;
        }
    }
    /* The list is rewritten in place. The pool reports before the server serves (it waits
     * for every worker's ready line), and later reports repeat the same names, so readers
     * do not race a change in practice; a reader that did would still see valid entries up
     * to a NULL. */
    if (changed)
        rebuild_locked();
    pthread_mutex_unlock(&lock);
    return changed;
}
