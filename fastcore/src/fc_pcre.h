/* The few PCRE2 8-bit entry points fastcore uses, declared by hand so that building needs
 * only the runtime libpcre2-8.so.0 (no pcre2.h).  The opaque types stay incomplete; the
 * signatures are those of the PCRE2 10.x API with PCRE2_CODE_UNIT_WIDTH=8. */
#ifndef FC_PCRE_H
#define FC_PCRE_H
#include <stddef.h>
#include <stdint.h>

typedef struct pcre2_real_code_8 pcre2_code_8;
typedef struct pcre2_real_match_data_8 pcre2_match_data_8;

pcre2_code_8 *pcre2_compile_8(const uint8_t *pattern, size_t length, uint32_t options,
                              int *errorcode, size_t *erroroffset, void *ccontext);
void pcre2_code_free_8(pcre2_code_8 *code);
int pcre2_get_error_message_8(int errorcode, uint8_t *buffer, size_t bufflen);
int pcre2_pattern_info_8(const pcre2_code_8 *code, uint32_t what, void *where);
pcre2_match_data_8 *pcre2_match_data_create_from_pattern_8(const pcre2_code_8 *code,
                                                           void *gcontext);
void pcre2_match_data_free_8(pcre2_match_data_8 *match_data);
int pcre2_match_8(const pcre2_code_8 *code, const uint8_t *subject, size_t length,
                  size_t startoffset, uint32_t options, pcre2_match_data_8 *match_data,
                  void *mcontext);
size_t *pcre2_get_ovector_pointer_8(pcre2_match_data_8 *match_data);
uint32_t pcre2_get_ovector_count_8(pcre2_match_data_8 *match_data);

#endif
