/* Ends the failing allocator's reach (see failalloc.h). */
#undef malloc
#undef calloc
#undef realloc
#undef strdup
#undef strndup
