"""Prints, as JSON, the TCP options of another process's socket, read from the kernel.

Usage: socket-options.py PID LOCAL_PORT PEER_PORT

Finds the process's socket whose local port is LOCAL_PORT and peer port PEER_PORT (in
/proc/net/tcp and tcp6), takes a copy of its descriptor with pidfd_getfd(2) (needs ptrace rights
over PID, e.g. root) and asks getsockopt(2). Node can read none of these options itself.
"""
import ctypes
import json
import os
import socket
import sys

SYS_PIDFD_GETFD = 438  # x86-64 and arm64 alike

pid, local_port, peer_port = (int(a) for a in sys.argv[1:4])


def inode_of_socket():
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if int(local.rsplit(':', 1)[1], 16) == local_port and int(remote.rsplit(':', 1)[1], 16) == peer_port:
                    return inode
    sys.exit(f'no socket {local_port} <-> {peer_port}')


def fd_of_inode(inode):
    for fd in os.listdir(f'/proc/{pid}/fd'):
        try:
            if os.readlink(f'/proc/{pid}/fd/{fd}') == f'socket:[{inode}]':
                return int(fd)
        except OSError:
            pass
    sys.exit(f'process {pid} holds no descriptor for socket inode {inode}')


target = fd_of_inode(inode_of_socket())
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(pid)
fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, target, 0)
if fd < 0:
    sys.exit(f'pidfd_getfd: {os.strerror(ctypes.get_errno())}')
s = socket.socket(fileno=fd)
print(json.dumps({
    'nodelay': s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0,
    'keepalive': s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0,
    'keepidle': s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
    'keepintvl': s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
    'keepcnt': s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
}))
