package dev.waymark;

/** Where a touchpoint happened (waymark_channel_t). */
public enum Channel {
  UNKNOWN(0),
  APP(1),
  WEB(2),
  KIOSK(3),
  ATM(4),
  POS(5),
  CALL_CENTRE(6),
  EMAIL(7),
  SMS(8),
  PUSH(9),
  OTHER(10),
  /** Interactive voice response (VRU), beside the call centre. */
  IVR(11),
  DISPLAY(12),
  VIDEO(13),
  SOCIAL(14),
  TV(15),
  RADIO(16),
  /** Print, direct mail, outdoor: offline media reached through a campaign code. */
  PRINT(17);

  final int code;

  Channel(int code) {
    this.code = code;
  }

  /** The C ABI's value. */
  public int code() {
    return code;
  }
}
