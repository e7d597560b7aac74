#include "string.h"

// rep movsb/stosb rather than C loops, which the compiler could turn back
// into calls to these very functions.
void *memcpy(void *destination, const void *source, size_t length) {
    void *cursor = destination;
    __asm__ volatile("rep movsb" : "+D"(cursor), "+S"(source), "+c"(length) : : "memory");
    return destination;
}

void *memmove(void *destination, const void *source, size_t length) {
    if ((const char *)destination <= (const char *)source ||
        (const char *)destination >= (const char *)source + length) {
        return memcpy(destination, source, length);
    }
    // Overlapping with the destination above: copy backwards.
    char *last_destination = (char *)destination + length - 1;
    const char *last_source = (const char *)source + length - 1;
    __asm__ volatile("std\n\trep movsb\n\tcld"
                     : "+D"(last_destination), "+S"(last_source), "+c"(length)
                     :
                     : "memory");
    return destination;
}

void *memset(void *destination, int value, size_t length) {
    void *cursor = destination;
    __asm__ volatile("rep stosb" : "+D"(cursor), "+c"(length) : "a"(value) : "memory");
    return destination;
}

int memcmp(const void *left, const void *right, size_t length) {
    const unsigned char *left_bytes = left;
    const unsigned char *right_bytes = right;
    for (size_t index = 0; index < length; ++index) {
        if (left_bytes[index] != right_bytes[index]) {
            return left_bytes[index] < right_bytes[index] ? -1 : 1;
        }
    }
    return 0;
}

size_t strlen(const char *text) {
    size_t length = 0;
    while (text[length] != '\0') {
        ++length;
    }
    return length;
}

size_t strnlen(const char *text, size_t limit) {
    size_t length = 0;
    while (length < limit && text[length] != '\0') {
        ++length;
    }
    return length;
}

bool text_equals(const char *text, size_t length, const char *expected) {
    return strnlen(expected, length + 1) == length && memcmp(text, expected, length) == 0;
}
