# C API of fastcore._request for other .pyx files (the scanner is nogil and allocation-free).
from libc.stdint cimport uint32_t


cdef extern from "fc_request.h" nogil:
    ctypedef struct fc_span:
        uint32_t off
        uint32_t len
    ctypedef struct fc_field:
        fc_span name
        fc_span value
        int folded
    ctypedef struct fc_head:
        fc_span method
        fc_span target
        fc_span version
        int proto_num
        size_t head_len
        int nfields
        int status
        const char *reason
    void fc_request_init()
    int fc_parse_head(const unsigned char *b, size_t n, long limit_line, long limit_fields,
                      long limit_field_size, fc_head *h, fc_field *fields, int cap)
    int fc_parse_head_ex(const unsigned char *b, size_t n, long limit_line, long limit_fields,
                         long limit_field_size, fc_head *h, fc_field *fields, int cap,
                         int strict)


cdef class RequestHead:
    cdef readonly str method
    cdef readonly str target
    cdef readonly str version
    cdef readonly int proto_num
    cdef readonly list headers
    cdef readonly Py_ssize_t head_len
    cdef dict _index
    cpdef dict index(self)
