/*
 * ntpdata-probe: asks a chronyd for its NTPDATA report about one NTP source through
 * chrony_client and chrony_proto (the code oracled runs), and prints it as one CSV line, in the
 * vocabulary of `chronyc -c ntpdata` so a test can compare the two field by field:
 *   remote,port,local,leap,version,mode,stratum,poll,precision,root_delay,root_dispersion,
 *   ref_id,ref_time,offset,peer_delay,peer_dispersion,response_time,jitter_asymmetry,
 *   tests1,tests2,tests3,interleaved,authenticated,tx,rx,total_tx,total_rx,total_valid,total_good
 * Usage: ntpdata-probe CHRONY_ADDR SOURCE_IP   (e.g. unix:/run/chrony/chronyd.sock 192.0.2.1)
 * Exit 0 with the line on stdout; 1 with "ntpdata-probe: WHY" on stderr (chronyd's refusal as
 * the decoder names it, e.g. "unauthorised"); 2 for bad arguments.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "chrony_client.h"

static const char *leap_name(unsigned leap)
{
    static const char *const names[] = {"Normal", "Insert second", "Delete second",
                                        "Not synchronised"};
    return leap < 4 ? names[leap] : "Invalid";
}

static const char *mode_name(unsigned mode)
{
    /* As chronyc's %M prints them. */
    switch (mode) {
    case 1:
        return "Symmetric active";
    case 2:
        return "Symmetric passive";
    case 4:
        return "Server";
    default:
        return "Invalid";
    }
}

static const char *tss_name(unsigned c)
{
    return c == 'D' ? "Daemon" : c == 'K' ? "Kernel" : c == 'H' ? "Hardware" : "Invalid";
}

static void bits(char *buf, unsigned value, int n)
{
    for (int i = 0; i < n; i++) {
        buf[i] = (char)('0' + ((value >> (n - 1 - i)) & 1));
    }
    buf[n] = '\0';
}

static double f(struct chrony_float x)
{
    return chrony_float_to_double(x);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ntpdata-probe CHRONY_ADDR SOURCE_IP\n");
        return 2;
    }
    struct chrony_addr a;
    const char *why = NULL;
    if (chrony_addr_parse(argv[1], &a, &why) < 0) {
        fprintf(stderr, "ntpdata-probe: %s\n", why);
        return 2;
    }
    uint8_t addr[16] = {0};
    uint16_t family = CHRONY_ADDR_INET4;
    if (inet_pton(AF_INET, argv[2], addr) != 1) {
        family = CHRONY_ADDR_INET6;
        if (inet_pton(AF_INET6, argv[2], addr) != 1) {
            fprintf(stderr, "ntpdata-probe: not an IP address: %s\n", argv[2]);
            return 2;
        }
    }
    int err = 0;
    struct chrony_client *c = chrony_client_new(&a, cb_clock_system(), &err);
    if (c == NULL) {
        fprintf(stderr, "ntpdata-probe: %s\n", strerror(-err));
        return 1;
    }
    struct chrony_query_opts o = {.timeout_ns = CHRONY_QUERY_DEFAULT_TIMEOUT_NS,
                                  .attempts = CHRONY_QUERY_DEFAULT_ATTEMPTS};
    struct chrony_ntpdata d;
    int rc = chrony_client_query_ntpdata(c, &o, family, addr, &d, &why);
    chrony_client_free(c);
    if (rc < 0) {
        fprintf(stderr, "ntpdata-probe: %s\n", why != NULL ? why : strerror(-rc));
        return 1;
    }
    char remote[INET6_ADDRSTRLEN] = "";
    char local[INET6_ADDRSTRLEN] = "";
    inet_ntop(d.addr_family == CHRONY_ADDR_INET4 ? AF_INET : AF_INET6, d.addr, remote,
              sizeof(remote));
    if (d.local_family != CHRONY_ADDR_UNSPEC) {
        inet_ntop(d.local_family == CHRONY_ADDR_INET4 ? AF_INET : AF_INET6, d.local_addr, local,
                  sizeof(local));
    }
    char t1[4], t2[4], t3[5];
    bits(t1, d.flags >> 7, 3);
    bits(t2, d.flags >> 4, 3);
    bits(t3, d.flags, 4);
    printf(
        "%s,%u,%s,%s,%u,%s,%u,%d,%d,%.6f,%.6f,%08X,%lld.%09lld,%.9f,%.9f,%.9f,%.9f,%.2f,%s,%s,%s,"
        "%s,%s,%s,%s,%u,%u,%u,%u\n",
        remote, (unsigned)d.remote_port, local, leap_name(d.leap), (unsigned)d.version,
        mode_name(d.mode), (unsigned)d.stratum, d.poll, d.precision, f(d.root_delay_s),
        f(d.root_dispersion_s), (unsigned)d.ref_id, (long long)(d.ref_time_ns / 1000000000),
        (long long)(d.ref_time_ns % 1000000000), f(d.offset_s), f(d.peer_delay_s),
        f(d.peer_dispersion_s), f(d.response_time_s), f(d.jitter_asymmetry), t1, t2, t3,
        (d.flags & CHRONY_NTP_FLAG_INTERLEAVED) ? "Yes" : "No",
        (d.flags & CHRONY_NTP_FLAG_AUTHENTICATED) ? "Yes" : "No", tss_name(d.tx_tss_char),
        tss_name(d.rx_tss_char), (unsigned)d.total_tx_count, (unsigned)d.total_rx_count,
        (unsigned)d.total_valid_count, (unsigned)d.total_good_count);
    return 0;
}
