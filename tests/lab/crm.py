#!/usr/bin/python3
"""Read `crm_mon --output-as=xml` on stdin and answer one question.

  crm.py formed N          exit 0 when a DC exists and N nodes are online, none pending
  crm.py roles RSC         one line per instance of RSC: "<node> <role>"
  crm.py placement RSC...  one line per instance of each RSC: "<rsc> <node> <role>" (one
                           crm_mon for several resources: a sample of a moment)
  crm.py primary RSC       the node running RSC Promoted (exit 1 if none)
  crm.py count RSC ROLE    how many instances of RSC run in ROLE
  crm.py failures          one line per failed action: "<node> <op_key> <exitstatus>",
                           then " (<exitreason>)" when the agent gave one
"""
import html
import sys
import xml.etree.ElementTree as ET


def instances(root, rsc):
    for r in root.iter("resource"):
        if r.get("id") == rsc and r.get("active") == "true":
            for n in r.findall("node"):
                yield n.get("name"), r.get("role")


def main(argv):
    try:
        root = ET.fromstring(sys.stdin.read())
    except ET.ParseError:
        return 2
    cmd = argv[1]
    if cmd == "formed":
        dc = root.find("./summary/current_dc")
        if dc is None or dc.get("present") != "true":
            return 1
        nodes = root.findall("./nodes/node")
        online = [n for n in nodes if n.get("online") == "true" and n.get("pending") != "true"]
        return 0 if len(online) >= int(argv[2]) else 1
    if cmd == "roles":
        for node, role in instances(root, argv[2]):
            print(node, role)
        return 0
    if cmd == "placement":
        for rsc in argv[2:]:
            for node, role in instances(root, rsc):
                print(rsc, node, role)
        return 0
    if cmd == "primary":
        found = [n for n, role in instances(root, argv[2]) if role in ("Promoted", "Master")]
        if len(found) != 1:
            return 1
        print(found[0])
        return 0
    if cmd == "count":
        print(sum(1 for _, role in instances(root, argv[2]) if role == argv[3]))
        return 0
    if cmd == "failures":
        for f in root.iter("failure"):
            # crm_mon escapes the agent's exit reason once more than XML
            # needs ("&amp;apos;" in the file, "&apos;" once parsed).
            reason = html.unescape(f.get("exitreason") or "")
            print(f.get("node"), f.get("op_key"), f"{f.get('exitstatus')}" + (f" ({reason})" if reason else ""))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
