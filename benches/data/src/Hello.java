import java.util.*;
public class Hello {
  public static void main(String[] a) {
    Map<Integer, List<String>> m = new HashMap<>();
    for (int i = 0; i < 3000000; i++) m.computeIfAbsent(i % 1000, k -> new ArrayList<>()).add("s" + i);
    long t = 0; for (List<String> l : m.values()) t += l.size();
    System.out.println("Hello " + t + " " + String.join(",", new TreeSet<>(Arrays.asList("b", "a", "c"))));
  }
}
