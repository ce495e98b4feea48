/*
 * socket-addresses: both ends of an accepted TCP socket in one call, for the per-connection
 * record (src/echo/native-addresses.ts loads it; src/echo/connection-info.ts uses it).
 *
 * Why: Node's own way, `handle.getpeername(out)` and `handle.getsockname(out)`, is two calls that
 * each format the address with snprintf, create an object and set three properties on it from
 * C++, and the IPv4 client of a dual-stack listener then arrives as `::ffff:a.b.c.d`, which is cut
 * down again in JavaScript. Here one call makes the two syscalls, writes the ports and the local
 * IPv4 address into an Int32Array, and returns the peer's dotted quad as one string: IPv4-mapped
 * addresses unwrapped exactly as normalizeAddress() does.
 *
 * Only IPv4 and IPv4-mapped ends are handled; anything else (a real IPv6 end, a unix socket, an
 * error) returns `undefined` and the caller asks Node instead, so every other address keeps
 * Node's exact text (scope ids, zero compression).
 *
 * Built by scripts/build-native.mjs with the C compiler and the running Node's headers; Node-API
 * keeps one build valid on every supported Node line.
 *
 *   read(fd: number, out: Int32Array(3)): string | undefined
 *     out[0] = peer port, out[1] = local port, out[2] = local IPv4 address (network order bits).
 */
#include <node_api.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* The IPv4 address of an IPv4 or IPv4-mapped end, in network byte order; 0 when it is neither. */
static int ipv4_of(const struct sockaddr_storage *address, uint32_t *ipv4, int *port) {
  if (address->ss_family == AF_INET) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)address;
    memcpy(ipv4, &in4->sin_addr, 4);
    *port = ntohs(in4->sin_port);
    return 1;
  }
  if (address->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)address;
    if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return 0;
    memcpy(ipv4, in6->sin6_addr.s6_addr + 12, 4);
    *port = ntohs(in6->sin6_port);
    return 1;
  }
  return 0;
}

/* Writes the dotted quad of `ipv4` (network order) into `text`; returns its length. */
static size_t dotted_quad(uint32_t ipv4, char *text) {
  const unsigned char *octets = (const unsigned char *)&ipv4;
  size_t at = 0;
  for (int i = 0; i < 4; i++) {
    unsigned value = octets[i];
    if (i > 0) text[at++] = '.';
    if (value >= 100) text[at++] = (char)('0' + value / 100);
    if (value >= 10) text[at++] = (char)('0' + value / 10 % 10);
    text[at++] = (char)('0' + value % 10);
  }
  return at;
}

static napi_value read_addresses(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value result;
  napi_get_undefined(env, &result);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return result;

  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return result;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      length < 3)
    return result;
  int32_t *out = data;

  struct sockaddr_storage peer, local;
  socklen_t peer_length = sizeof peer, local_length = sizeof local;
  if (getpeername(fd, (struct sockaddr *)&peer, &peer_length) != 0) return result;
  if (getsockname(fd, (struct sockaddr *)&local, &local_length) != 0) return result;

  uint32_t peer_ipv4, local_ipv4;
  int peer_port, local_port;
  if (!ipv4_of(&peer, &peer_ipv4, &peer_port) || !ipv4_of(&local, &local_ipv4, &local_port)) return result;

  char text[16];
  size_t text_length = dotted_quad(peer_ipv4, text);
  napi_value address;
  if (napi_create_string_latin1(env, text, text_length, &address) != napi_ok) return result;
  out[0] = peer_port;
  out[1] = local_port;
  memcpy(&out[2], &local_ipv4, 4);
  return address;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value read;
  if (napi_create_function(env, "read", NAPI_AUTO_LENGTH, read_addresses, NULL, &read) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "read", read) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
