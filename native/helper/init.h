#ifndef BK_INIT_H
#define BK_INIT_H
// `bunker-helper init -- CMD [ARG...]`: the container's PID 1 for `run --init`.
int bk_init_main(int argc, char **argv);
#endif
