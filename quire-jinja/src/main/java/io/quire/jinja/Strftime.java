package io.quire.jinja;

import java.time.LocalDateTime;

/** C-locale strftime for a naive local date-time, as Python's datetime.now().strftime() gives it. */
final class Strftime {
  private Strftime() {}

  private static final String[] DAYS = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
  private static final String[] MONTHS = {"January", "February", "March", "April", "May", "June", "July",
      "August", "September", "October", "November", "December"};

  static String format(LocalDateTime t, String fmt) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < fmt.length(); i++) {
      char c = fmt.charAt(i);
      if (c != '%' || i + 1 >= fmt.length()) {
        sb.append(c);
        continue;
      }
      char d = fmt.charAt(++i);
      boolean noPad = false;
      if (d == '-' && i + 1 < fmt.length()) {
        noPad = true;
        d = fmt.charAt(++i);
      }
      int hour12 = t.getHour() % 12 == 0 ? 12 : t.getHour() % 12;
      String day = DAYS[t.getDayOfWeek().getValue() - 1];
      String month = MONTHS[t.getMonthValue() - 1];
      switch (d) {
        case 'a' -> sb.append(day, 0, 3);
        case 'A' -> sb.append(day);
        case 'b', 'h' -> sb.append(month, 0, 3);
        case 'B' -> sb.append(month);
        case 'd' -> sb.append(pad(t.getDayOfMonth(), 2, noPad));
        case 'e' -> sb.append(noPad ? Integer.toString(t.getDayOfMonth()) : String.format("%2d", t.getDayOfMonth()));
        case 'H' -> sb.append(pad(t.getHour(), 2, noPad));
        case 'I' -> sb.append(pad(hour12, 2, noPad));
        case 'j' -> sb.append(pad(t.getDayOfYear(), 3, noPad));
        case 'm' -> sb.append(pad(t.getMonthValue(), 2, noPad));
        case 'M' -> sb.append(pad(t.getMinute(), 2, noPad));
        case 'S' -> sb.append(pad(t.getSecond(), 2, noPad));
        case 'f' -> sb.append(pad(t.getNano() / 1000, 6, false));
        case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
        case 'y' -> sb.append(pad(t.getYear() % 100, 2, noPad));
        case 'Y' -> sb.append(t.getYear());
        case 'w' -> sb.append(t.getDayOfWeek().getValue() % 7);
        case 'u' -> sb.append(t.getDayOfWeek().getValue());
        case 'c' -> sb.append(format(t, "%a %b %e %H:%M:%S %Y"));
        case 'x' -> sb.append(format(t, "%m/%d/%y"));
        case 'X', 'T' -> sb.append(format(t, "%H:%M:%S"));
        case 'D' -> sb.append(format(t, "%m/%d/%y"));
        case 'F' -> sb.append(format(t, "%Y-%m-%d"));
        case 'R' -> sb.append(format(t, "%H:%M"));
        case 'Z', 'z' -> {}
        case 'n' -> sb.append('\n');
        case 't' -> sb.append('\t');
        case '%' -> sb.append('%');
        default -> sb.append('%').append(noPad ? "-" : "").append(d);
      }
    }
    return sb.toString();
  }

  private static String pad(int v, int width, boolean noPad) {
    String s = Integer.toString(v);
    return noPad || s.length() >= width ? s : "0".repeat(width - s.length()) + s;
  }
}
