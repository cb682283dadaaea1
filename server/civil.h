/*
 * server/civil.h — proleptic Gregorian calendar arithmetic (days since
 * 1970-01-01 to and from year/month/day). The config parser reads dates
 * with it and JetStream writes and reads RFC 3339 times with it; one copy
 * so the two can never disagree about a date.
 */
#ifndef TERN_SERVER_CIVIL_H
#define TERN_SERVER_CIVIL_H

#include <stdint.h>

/* Days since 1970-01-01 of year y, month m (1-12), day d (1-31). */
int64_t civil_days_from_date(int64_t y, int m, int d);

/* The inverse: the date of day z since 1970-01-01. */
void civil_date_from_days(int64_t z, int64_t *y, int *m, int *d);

#endif
