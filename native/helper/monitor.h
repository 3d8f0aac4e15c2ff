#ifndef BK_MONITOR_H
#define BK_MONITOR_H
// `bunker-helper monitor`: supervises one detached container (see monitor.c).
int bk_monitor_main(int argc, char **argv);
#endif
