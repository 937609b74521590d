"""The sans-I/O BGP core: wire codec, session state machine and outbound table. No sockets, no clock."""
