/* oracled: the commit-wait timestamp oracle. */
#include "clock.h"
#include "daemon.h"

int main(int argc, char **argv)
{
    return oracled_main(argc, argv, cb_clock_system());
}
