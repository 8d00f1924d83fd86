/* Names for return codes, server error codes and clock statuses (see oracle/client.h). */
#include "oracle/client.h"

#define API __attribute__((visibility("default")))

API const char *oracle_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case ORACLE_E_SERVER:
        return "the server answered with an error";
    case ORACLE_E_CONNECT:
        return "cannot connect to oracled";
    case ORACLE_E_TIMEOUT:
        return "no reply within the timeout";
    case ORACLE_E_CLOSED:
        return "the connection broke";
    case ORACLE_E_PROTOCOL:
        return "the server sent an invalid reply";
    case ORACLE_E_INVALID:
        return "invalid argument";
    case ORACLE_E_NOMEM:
        return "out of memory";
    case ORACLE_E_BUSY:
        return "too many requests in flight";
    default:
        return "unknown error";
    }
}

API const char *oracle_rc_name(int rc)
{
    switch (rc) {
    case 0:
        return "OK";
    case ORACLE_E_SERVER:
        return "SERVER";
    case ORACLE_E_CONNECT:
        return "CONNECT";
    case ORACLE_E_TIMEOUT:
        return "TIMEOUT";
    case ORACLE_E_CLOSED:
        return "CLOSED";
    case ORACLE_E_PROTOCOL:
        return "PROTOCOL";
    case ORACLE_E_INVALID:
        return "INVALID";
    case ORACLE_E_NOMEM:
        return "NOMEM";
    case ORACLE_E_BUSY:
        return "BUSY";
    default:
        return "UNKNOWN";
    }
}

API const char *oracle_error_code_name(enum oracle_error_code code)
{
    switch (code) {
    case ORACLE_ERROR_NONE:
        return "NONE";
    case ORACLE_ERROR_BAD_REQUEST:
        return "BAD_REQUEST";
    case ORACLE_ERROR_UNSUPPORTED:
        return "UNSUPPORTED";
    case ORACLE_ERROR_CLOCK_UNAVAILABLE:
        return "CLOCK_UNAVAILABLE";
    case ORACLE_ERROR_BOUND_TOO_WIDE:
        return "BOUND_TOO_WIDE";
    case ORACLE_ERROR_WAIT_TOO_LONG:
        return "WAIT_TOO_LONG";
    case ORACLE_ERROR_OVERLOADED:
        return "OVERLOADED";
    case ORACLE_ERROR_NOT_READY:
        return "NOT_READY";
    case ORACLE_ERROR_SHUTTING_DOWN:
        return "SHUTTING_DOWN";
    }
    return "UNKNOWN_ERROR";
}

API const char *oracle_clock_status_name(enum oracle_clock_status s)
{
    switch (s) {
    case ORACLE_CLOCK_UNKNOWN:
        return "UNKNOWN";
    case ORACLE_CLOCK_SYNCHRONIZED:
        return "SYNCHRONIZED";
    case ORACLE_CLOCK_FREE_RUNNING:
        return "FREE_RUNNING";
    case ORACLE_CLOCK_DISRUPTED:
        return "DISRUPTED";
    }
    return "UNKNOWN";
}
