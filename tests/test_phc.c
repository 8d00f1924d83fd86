/*
 * Unit tests: the PHC's own error bound (clockbound/phc.c): the parser, the uevent lookup, the
 * reference ID, the rule, and the file edge on a fake sysfs tree in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "phc.h"

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        int64_t ns;
    } cases[] = {
        {"12345\n", 0, 12345},
        {"0\n", 0, 0},
        {"  42 \t\r\n", 0, 42},
        {"+7", 0, 7},
        {"-0\n", 0, 0},
        {"9223372036854775807\n", 0, INT64_MAX},
        {"", -ENODATA, 0},
        {"\n", -ENODATA, 0},
        {" \t\n ", -ENODATA, 0},
        {"-1\n", -ERANGE, 0},
        {"-9223372036854775808", -ERANGE, 0},
        {"9223372036854775808\n", -ERANGE, 0},
        {"99999999999999999999999", -ERANGE, 0},
        {"abc\n", -EINVAL, 0},
        {"12a\n", -EINVAL, 0},
        {"1 2\n", -EINVAL, 0},
        {"-\n", -EINVAL, 0},
        {"+\n", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"1.5\n", -EINVAL, 0},
        {"--1", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ns = -42;
        int rc = cb_phc_parse(cases[i].text, strlen(cases[i].text), &ns);
        if (rc != cases[i].rc || (rc == 0 && ns != cases[i].ns)) {
            fail_msg("'%s': rc %d ns %lld, want rc %d ns %lld", cases[i].text, rc, (long long)ns,
                     cases[i].rc, (long long)cases[i].ns);
        }
        if (rc != 0) {
            assert_int_equal(ns, -42); /* untouched */
        }
    }
    /* A NUL inside is not a number; the length, not a terminator, ends the text. */
    assert_int_equal(cb_phc_parse("12\0"
                                  "3",
                                  4, &(int64_t){0}),
                     -EINVAL);
    int64_t ns = 0;
    assert_int_equal(cb_phc_parse("123456", 3, &ns), 0);
    assert_int_equal(ns, 123);
}

static void test_slot_from_uevent(void **state)
{
    (void)state;
    char slot[32];
    static const char ena[] = "DRIVER=ena\nPCI_CLASS=20000\nPCI_ID=1D0F:EC20\n"
                              "PCI_SUBSYS_ID=1D0F:EC20\nPCI_SLOT_NAME=0000:00:05.0\n"
                              "MODALIAS=pci:v00001D0Fd0000EC20sv00001D0Fsd0000EC20bc02sc00i00\n";
    assert_int_equal(cb_phc_slot_from_uevent(ena, strlen(ena), slot, sizeof(slot)), 0);
    assert_string_equal(slot, "0000:00:05.0");
    /* The last line without a newline, and a CR. */
    assert_int_equal(
        cb_phc_slot_from_uevent("A=1\nPCI_SLOT_NAME=0000:00:06.0", 30, slot, sizeof(slot)), 0);
    assert_string_equal(slot, "0000:00:06.0");
    assert_int_equal(cb_phc_slot_from_uevent("PCI_SLOT_NAME=x\r\n", 17, slot, sizeof(slot)), 0);
    assert_string_equal(slot, "x");
    /* No such line (a virtio or loopback interface), a key that only starts like it. */
    static const char virtio[] = "DRIVER=virtio_net\nINTERFACE=eth0\n";
    assert_int_equal(cb_phc_slot_from_uevent(virtio, strlen(virtio), slot, sizeof(slot)), -ENOENT);
    assert_int_equal(cb_phc_slot_from_uevent("XPCI_SLOT_NAME=1\n", 17, slot, sizeof(slot)),
                     -ENOENT);
    assert_int_equal(cb_phc_slot_from_uevent("", 0, slot, sizeof(slot)), -ENOENT);
    /* Values that would leave the devices directory, or name nothing. */
    assert_int_equal(cb_phc_slot_from_uevent("PCI_SLOT_NAME=\n", 15, slot, sizeof(slot)), -EINVAL);
    assert_int_equal(cb_phc_slot_from_uevent("PCI_SLOT_NAME=../../etc\n", 24, slot, sizeof(slot)),
                     -EINVAL);
    assert_int_equal(cb_phc_slot_from_uevent("PCI_SLOT_NAME=..\n", 17, slot, sizeof(slot)),
                     -EINVAL);
    assert_int_equal(cb_phc_slot_from_uevent("PCI_SLOT_NAME=.\n", 16, slot, sizeof(slot)), -EINVAL);
    assert_int_equal(cb_phc_slot_from_uevent("PCI_SLOT_NAME=0000:00:05.0\n", 27, slot, 12),
                     -ENAMETOOLONG);
    assert_int_equal(cb_phc_slot_from_uevent("PCI_SLOT_NAME=0000:00:05.0\n", 27, slot, 13), 0);
}

static void test_refid(void **state)
{
    (void)state;
    uint32_t id = 0;
    assert_int_equal(cb_refid_parse("PHC0", &id), 0);
    assert_int_equal(id, CB_PHC_DEFAULT_REFID);
    assert_int_equal(id, 0x50484330);
    assert_int_equal(cb_refid_parse("GPS", &id), 0);
    assert_int_equal(id, 0x47505300); /* left-aligned, as chrony's conf.c packs it */
    assert_int_equal(cb_refid_parse("P", &id), 0);
    assert_int_equal(id, 0x50000000);
    assert_int_equal(cb_refid_parse("PHC10", &id), -EINVAL);
    assert_int_equal(cb_refid_parse("", &id), -EINVAL);
    assert_int_equal(cb_refid_parse("PH C", &id), -EINVAL);
    assert_int_equal(cb_refid_parse("PH\x7f", &id), -EINVAL);
    assert_int_equal(cb_refid_parse("\xc3\xa9", &id), -EINVAL);
}

static void test_judge(void **state)
{
    (void)state;
    const int64_t max = 10000000;
    struct cb_phc_reading r = {true, CB_PHC_DEFAULT_REFID, 0, 30000};
    int64_t add = -1;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_ADDED);
    assert_int_equal(add, 30000);
    assert_int_equal(cb_phc_judge(&r, 0x7F000001, max, &add), CB_PHC_NOT_REFERENCE);
    assert_int_equal(add, 0);
    r.configured = false;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_NOT_REFERENCE);
    assert_int_equal(add, 0);
    r.configured = true;
    r.error_bound_ns = max;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_ADDED);
    assert_int_equal(add, max);
    r.error_bound_ns = max + 1;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_ABSURD);
    assert_int_equal(add, 0);
    r.error_bound_ns = -5;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_NEGATIVE);
    r.error_bound_ns = 0;
    r.error = -ENODATA;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_EMPTY);
    r.error = -EINVAL;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_INVALID);
    r.error = -EFBIG;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_INVALID);
    r.error = -ERANGE;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_NEGATIVE);
    r.error = -EACCES;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, max, &add), CB_PHC_UNREADABLE);
    assert_int_equal(add, 0);
    for (int v = CB_PHC_NOT_REFERENCE; v <= CB_PHC_ABSURD; v++) {
        assert_string_not_equal(cb_phc_verdict_text((enum cb_phc_verdict)v), "?");
    }
}

static void test_history(void **state)
{
    (void)state;
    struct cb_phc_history h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(cb_phc_history_max(&h), -1);
    /* One update: its largest value, whatever came after. */
    cb_phc_history_add(&h, 1000, 50);
    cb_phc_history_add(&h, 1000, 300);
    cb_phc_history_add(&h, 1000, 7);
    assert_int_equal(h.n, 1);
    assert_int_equal(cb_phc_history_max(&h), 300);
    /* 63 more updates at 10: 300 is still among the last 64. */
    for (int64_t u = 1; u < CB_PHC_HISTORY_UPDATES; u++) {
        cb_phc_history_add(&h, 1000 + u, 10);
        assert_int_equal(cb_phc_history_max(&h), 300);
    }
    assert_int_equal(h.n, CB_PHC_HISTORY_UPDATES);
    /* The 65th update pushes it out. */
    cb_phc_history_add(&h, 5000, 10);
    assert_int_equal(h.n, CB_PHC_HISTORY_UPDATES);
    assert_int_equal(cb_phc_history_max(&h), 10);
    /* A new largest value anywhere in the ring, after wrapping. */
    cb_phc_history_add(&h, 5001, 40);
    for (int64_t u = 0; u < CB_PHC_HISTORY_UPDATES - 1; u++) {
        cb_phc_history_add(&h, 6000 + u, 1);
    }
    assert_int_equal(cb_phc_history_max(&h), 40);
    cb_phc_history_add(&h, 9000, 1);
    assert_int_equal(cb_phc_history_max(&h), 1);
}

/* --- the file edge, on a fake sysfs tree --- */

struct tree {
    char root[PATH_MAX];
};

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Rewrites the file in place (the same inode, as a sysfs attribute stays), so an open
 * descriptor sees the new text. */
static void rewrite(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void mkdirs(const char *root, const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
    mkdir(path, 0755);
}

static int tree_setup(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));
    snprintf(t->root, sizeof(t->root), "%s/test_phc.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(t->root) == NULL) {
        free(t);
        return -1;
    }
    /* /sys/class/net/eth0/device/uevent -> slot 0000:00:05.0, whose attribute holds 30 us;
     * eth1 has no PCI slot (virtio); lo has no device directory at all. */
    mkdirs(t->root, "class/net/eth0/device");
    mkdirs(t->root, "class/net/eth1/device");
    mkdirs(t->root, "class/net/lo");
    mkdirs(t->root, "bus/pci/devices/0000:00:05.0");
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/class/net/eth0/device/uevent", t->root);
    put(path, "DRIVER=ena\nPCI_CLASS=20000\nPCI_SLOT_NAME=0000:00:05.0\n");
    snprintf(path, sizeof(path), "%s/class/net/eth1/device/uevent", t->root);
    put(path, "DRIVER=virtio_net\n");
    snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:00:05.0/phc_error_bound", t->root);
    put(path, "30000\n");
    *state = t;
    return 0;
}

static int tree_teardown(void **state)
{
    struct tree *t = *state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static void test_path_for_interface(void **state)
{
    struct tree *t = *state;
    char path[CB_PHC_PATH_MAX];
    char why[512];
    char want[PATH_MAX + 64];
    assert_int_equal(
        cb_phc_path_for_interface(t->root, "eth0", path, sizeof(path), why, sizeof(why)), 0);
    snprintf(want, sizeof(want), "%s/bus/pci/devices/0000:00:05.0/phc_error_bound", t->root);
    assert_string_equal(path, want);
    /* No PCI slot: says it is not a PCI device. */
    assert_int_equal(
        cb_phc_path_for_interface(t->root, "eth1", path, sizeof(path), why, sizeof(why)), -ENOENT);
    assert_non_null(strstr(why, "not a PCI device"));
    /* No device directory, no such interface: says what could not be read. */
    assert_int_equal(cb_phc_path_for_interface(t->root, "lo", path, sizeof(path), why, sizeof(why)),
                     -ENOENT);
    assert_non_null(strstr(why, "cannot read"));
    assert_int_equal(
        cb_phc_path_for_interface(t->root, "eth9", path, sizeof(path), why, sizeof(why)), -ENOENT);
    /* Names that are not interface names. */
    static const char *const bad[] = {"", "../eth0", ".", "..", "a-name-longer-than-15"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            cb_phc_path_for_interface(t->root, bad[i], path, sizeof(path), why, sizeof(why)),
            -EINVAL);
        assert_non_null(strstr(why, "not a network interface name"));
    }
    /* A path that does not fit. */
    assert_int_equal(cb_phc_path_for_interface(t->root, "eth0", path, 20, why, sizeof(why)),
                     -ENAMETOOLONG);
}

static void test_read_and_take(void **state)
{
    struct tree *t = *state;
    char path[CB_PHC_PATH_MAX];
    char why[512];
    assert_int_equal(
        cb_phc_path_for_interface(t->root, "eth0", path, sizeof(path), why, sizeof(why)), 0);
    struct cb_phc phc;
    cb_phc_init(&phc);
    int64_t ns = 0;
    assert_int_equal(cb_phc_read(&phc, &ns), -EBADF);
    struct cb_phc_reading r;
    cb_phc_take(&phc, CB_PHC_DEFAULT_REFID, &r);
    assert_false(r.configured); /* never opened: nothing configured, nothing read */
    assert_int_equal(r.error, 0);

    assert_int_equal(cb_phc_open(&phc, path, why, sizeof(why)), 0);
    assert_int_equal(cb_phc_read(&phc, &ns), 0);
    assert_int_equal(ns, 30000);
    cb_phc_take(&phc, CB_PHC_DEFAULT_REFID, &r);
    assert_true(r.configured);
    assert_int_equal(r.ref_id, CB_PHC_DEFAULT_REFID);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.error_bound_ns, 30000);

    /* The file changes between polls: every read sees the current value. */
    rewrite(path, "41000\n");
    cb_phc_take(&phc, CB_PHC_DEFAULT_REFID, &r);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.error_bound_ns, 41000);
    rewrite(path, "7\n");
    cb_phc_take(&phc, CB_PHC_DEFAULT_REFID, &r);
    assert_int_equal(r.error_bound_ns, 7);
    /* Every bad value, then good again. */
    static const struct {
        const char *text;
        int error;
    } bad[] = {
        {"", -ENODATA},
        {"\n", -ENODATA},
        {"-3\n", -ERANGE},
        {"lots\n", -EINVAL},
        {"99999999999999999999\n", -ERANGE},
        {"1234567890123456789012345678901234567890\n", -EFBIG},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rewrite(path, bad[i].text);
        cb_phc_take(&phc, CB_PHC_DEFAULT_REFID, &r);
        assert_true(r.configured);
        assert_int_equal(r.error, bad[i].error);
    }
    rewrite(path, "30000\n");
    cb_phc_take(&phc, CB_PHC_DEFAULT_REFID, &r);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.error_bound_ns, 30000);

    /* The file goes away: the open descriptor still reads what it had (sysfs removes the
     * attribute with its device, a regular file keeps its inode); once the descriptor fails
     * (closed here), the path is opened afresh, and an error while it is missing. */
    close(phc.fd);
    phc.fd = open("/dev/null", O_WRONLY | O_CLOEXEC); /* reads fail with EBADF */
    assert_int_equal(unlink(path), 0);
    cb_phc_take(&phc, CB_PHC_DEFAULT_REFID, &r);
    assert_true(r.configured);
    assert_true(r.error < 0);
    int64_t add = 0;
    assert_int_equal(cb_phc_judge(&r, CB_PHC_DEFAULT_REFID, 10000000, &add), CB_PHC_UNREADABLE);
    put(path, "12000\n");
    cb_phc_take(&phc, CB_PHC_DEFAULT_REFID, &r);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.error_bound_ns, 12000);

    cb_phc_close(&phc);
    cb_phc_close(&phc); /* idempotent */
    assert_int_equal(phc.fd, -1);
}

static void test_open_errors(void **state)
{
    struct tree *t = *state;
    struct cb_phc phc;
    cb_phc_init(&phc);
    char why[512];
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/missing", t->root);
    assert_int_equal(cb_phc_open(&phc, path, why, sizeof(why)), -ENOENT);
    assert_non_null(strstr(why, "cannot open the PHC error bound file"));
    assert_int_equal(phc.fd, -1);
    assert_int_equal(cb_phc_open(&phc, t->root, why, sizeof(why)), -EISDIR);
    assert_int_equal(phc.fd, -1);
    assert_int_equal(cb_phc_open(&phc, "", why, sizeof(why)), -ENAMETOOLONG);
    char longp[CB_PHC_PATH_MAX + 8];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(cb_phc_open(&phc, longp, why, sizeof(why)), -ENAMETOOLONG);
    cb_phc_close(&phc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_slot_from_uevent),
        cmocka_unit_test(test_refid),
        cmocka_unit_test(test_judge),
        cmocka_unit_test(test_history),
        cmocka_unit_test_setup_teardown(test_path_for_interface, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_read_and_take, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, tree_setup, tree_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
