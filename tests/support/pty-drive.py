# Drives `bunker run -it` on a pty this script owns, like a user's terminal:
#   argv: MODE BUNKER ARGS...   MODE: exit | winch | kill | term | kill9
# Prints one JSON line: exit status, whether the terminal was raw while bunker ran, whether its
# settings were restored afterwards, the last size the container saw, and the output.
import fcntl, json, os, select, signal, struct, sys, termios

mode, cmd = sys.argv[1], sys.argv[2:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
before = termios.tcgetattr(slave)
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.closerange(3, 1024)
    os.execvp(cmd[0], cmd)

out = b""
def read_some():
    global out
    r, _, _ = select.select([master], [], [], 0.05)
    if r:
        try:
            out += os.read(master, 4096)
        except OSError:
            pass

def until(text):
    while text.encode() not in out:
        if os.waitpid(pid, os.WNOHANG)[0] != 0:
            raise SystemExit(f"bunker ended before {text!r}: {out!r}")
        read_some()

def children(p):
    kids = []
    for tid in os.listdir(f"/proc/{p}/task"):
        kids += [int(c) for c in open(f"/proc/{p}/task/{tid}/children").read().split()]
    return kids

until("ready")
if mode == "exit":
    os.write(master, b"\r")  # one size line at the start size
    until("size0=")
lflag = termios.tcgetattr(slave)[3]
raw = not (lflag & termios.ICANON) and not (lflag & termios.ECHO)
size = None
if mode == "exit":
    os.write(master, b"\x04")  # end of input: the container exits
elif mode == "winch":
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    os.kill(pid, signal.SIGWINCH)
    # Ask until the container reports the new size (bunker handles the signal asynchronously).
    for i in range(200):
        mark = f"size{i}="  # the container numbers its answers
        os.write(master, b"\r")
        until(mark)
        while not out.split(mark.encode(), 1)[1].count(b"\n"):
            read_some()
        size = out.split(mark.encode(), 1)[1].split(b"\r")[0].split(b"\n")[0].decode().strip()
        if size == "40 100":
            break
    os.write(master, b"\x04")
elif mode == "kill":
    [ctr] = children(pid)
    os.kill(ctr, signal.SIGKILL)
elif mode == "term":
    os.kill(pid, signal.SIGTERM)
elif mode == "kill9":
    # a control for this harness: SIGKILL leaves bunker no chance to restore anything
    os.kill(pid, signal.SIGKILL)

status = None
while status is None:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st)
    read_some()
read_some()
after = termios.tcgetattr(slave)
print(json.dumps({"code": status, "raw": raw, "restored": after == before, "size": size, "output": out.decode(errors="replace")}))
