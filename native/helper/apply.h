// Modes of bunker-helper implemented in apply.c (layer application and tree removal).
#ifndef BK_APPLY_H
#define BK_APPLY_H
int bk_apply_main(int argc, char **argv);
int bk_rm_main(int argc, char **argv);
#endif
