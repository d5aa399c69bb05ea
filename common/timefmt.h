/* SPDX-License-Identifier: MIT */
/* timefmt.h - clocks and the contract's "YYYY-MM-DD HH:MM:SS" UTC strings. */
#ifndef CONVERTD_COMMON_TIMEFMT_H
#define CONVERTD_COMMON_TIMEFMT_H

#include <stdint.h>

#define TIMEFMT_LEN 19

/* Wall-clock Unix seconds. */
int64_t time_now(void);
/* Monotonic milliseconds, for deadlines. */
int64_t time_mono_ms(void);
/* t as "YYYY-MM-DD HH:MM:SS" in UTC into out (TIMEFMT_LEN + 1 bytes); t == 0 gives
 * "0000-00-00 00:00:00". */
void time_utc_string(int64_t t, char out[TIMEFMT_LEN + 1]);

#endif
