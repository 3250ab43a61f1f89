/*
 * The latency floor for `npm run bench -- dns`: a UDP server that does no DNS at all. It waits in
 * epoll like dnsmasq, reads with recvmmsg, sets the QR bit and sends every datagram straight back
 * with sendmmsg. Whatever p99 it measures at a fixed rate is the machine's own (wakeups, the
 * scheduler, the hypervisor); no DNS server can answer faster. Usage: udp-echo ADDRESS (port 53).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define SLOTS 64
#define SLOT_SIZE 4096

static char bufs[SLOTS][SLOT_SIZE];
static struct sockaddr_storage peers[SLOTS];
static struct mmsghdr msgs[SLOTS];
static struct iovec iov[SLOTS];

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: udp-echo IPV4-ADDRESS\n");
    return 2;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(53)};
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "udp-echo: %s is not an IPv4 address\n", argv[1]);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    perror("udp-echo: bind");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
    perror("udp-echo: epoll");
    return 1;
  }
  for (;;) {
    struct epoll_event ready;
    if (epoll_wait(ep, &ready, 1, -1) <= 0) continue;
    for (int i = 0; i < SLOTS; i++) {
      iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = SLOT_SIZE};
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
    }
    int n = recvmmsg(fd, msgs, SLOTS, MSG_DONTWAIT, NULL);
    if (n <= 0) continue;
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_len > 2) bufs[i][2] |= (char)0x80;
      iov[i].iov_len = msgs[i].msg_len;
    }
    sendmmsg(fd, msgs, n, MSG_DONTWAIT);
  }
}
