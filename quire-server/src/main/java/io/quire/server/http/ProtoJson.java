package io.quire.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.MapEntry;
import com.google.protobuf.Message;
import java.util.List;

/**
 * A message as Triton's {@code /config} endpoint shows it: proto3 JSON with the .proto field
 * names, every scalar field printed (defaults included), 64-bit integers as strings.
 */
final class ProtoJson {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  private ProtoJson() {}

  static ObjectNode toJson(Message m) {
    ObjectNode o = F.objectNode();
    for (FieldDescriptor f : m.getDescriptorForType().getFields()) {
      if (f.getRealContainingOneof() != null && !m.hasField(f)) continue;
      if (!f.isRepeated() && f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !m.hasField(f)) continue;
      if (f.isMapField()) {
        ObjectNode map = o.putObject(f.getName());
        for (Object e : (List<?>) m.getField(f)) {
          MapEntry<?, ?> me = (MapEntry<?, ?>) e;
          FieldDescriptor vf = me.getDescriptorForType().findFieldByName("value");
          map.set(String.valueOf(me.getKey()), value(vf, me.getValue()));
        }
      } else if (f.isRepeated()) {
        ArrayNode a = o.putArray(f.getName());
        for (Object e : (List<?>) m.getField(f)) a.add(value(f, e));
      } else {
        o.set(f.getName(), value(f, m.getField(f)));
      }
    }
    return o;
  }

  private static JsonNode value(FieldDescriptor f, Object v) {
    return switch (f.getJavaType()) {
      case MESSAGE -> toJson((Message) v);
      case ENUM -> F.textNode(((EnumValueDescriptor) v).getName());
      case LONG -> F.textNode(String.valueOf(v));
      case INT -> F.numberNode((Integer) v);
      case FLOAT -> F.numberNode((Float) v);
      case DOUBLE -> F.numberNode((Double) v);
      case BOOLEAN -> F.booleanNode((Boolean) v);
      case STRING -> F.textNode((String) v);
      case BYTE_STRING -> F.textNode(java.util.Base64.getEncoder().encodeToString(((com.google.protobuf.ByteString) v).toByteArray()));
    };
  }
}
