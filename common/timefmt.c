/* SPDX-License-Identifier: MIT */
/* timefmt.c - clocks and the contract's "YYYY-MM-DD HH:MM:SS" UTC strings. */
#include "common/timefmt.h"

#include <string.h>
#include <time.h>

int64_t time_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t time_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_utc_string(int64_t t, char out[TIMEFMT_LEN + 1])
{
    time_t tt = (time_t)t;
    struct tm tm;

    /* spec (compat J1): a time not yet reached is "0000-00-00 00:00:00"; so is a time
     * that does not fit the four-digit year of the format. */
    if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
        strftime(out, TIMEFMT_LEN + 1, "%Y-%m-%d %H:%M:%S", &tm) != TIMEFMT_LEN)
        memcpy(out, "0000-00-00 00:00:00", TIMEFMT_LEN + 1);
}
