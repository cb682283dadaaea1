/*
 * tests/fuzz/fuzz_procstat.c — libFuzzer target for server/procstat.c's
 * parser of /proc/<pid>/stat.
 *
 * Input: the file's text, any bytes, in a heap buffer of exactly its
 * length (AddressSanitizer sees an overrun). A text it accepts must have a
 * ')' and, after the last one, at least 22 fields; parsing it again gives
 * the same figures. Aborts (trap) on a broken rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/procstat.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *t = malloc(size ? size : 1);
    CHECK(t);
    if (size)
        memcpy(t, data, size);
    struct procstat a, b;
    if (procstat_parse(t, size, &a) == 0) {
        const char *close = NULL;
        for (size_t i = 0; i < size; i++)
            if (t[i] == ')')
                close = t + i;
        CHECK(close);
        size_t fields = 0;
        int in = 0;
        for (const char *p = close + 1; p < t + size; p++) {
            int sp = *p == ' ' || *p == '\n';
            if (!sp && !in)
                fields++;
            in = !sp;
        }
        CHECK(fields >= 22);
        CHECK(procstat_parse(t, size, &b) == 0 && memcmp(&a, &b, sizeof a) == 0);
    }
    free(t);
    return 0;
}
