import Foundation

/// The JUnit XML format as CI test reporters read it (the Ant/Jenkins form:
/// testsuites > testsuite > testcase with failure, error or skipped and
/// system-out), as an XML Schema, and a check with xmllint. Written for these
/// tests from the format's description; strict on what mqttctl emits.
enum JUnitSchema {
    static let xsd = """
        <?xml version="1.0" encoding="UTF-8"?>
        <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
          <xs:simpleType name="count"><xs:restriction base="xs:nonNegativeInteger"/></xs:simpleType>
          <xs:simpleType name="seconds"><xs:restriction base="xs:decimal"><xs:minInclusive value="0"/></xs:restriction></xs:simpleType>
          <xs:simpleType name="timestamp">
            <xs:restriction base="xs:string"><xs:pattern value="[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"/></xs:restriction>
          </xs:simpleType>
          <xs:complexType name="problem">
            <xs:simpleContent>
              <xs:extension base="xs:string">
                <xs:attribute name="message" type="xs:string"/>
                <xs:attribute name="type" type="xs:string" use="required"/>
              </xs:extension>
            </xs:simpleContent>
          </xs:complexType>
          <xs:element name="testsuites">
            <xs:complexType>
              <xs:sequence>
                <xs:element name="testsuite" minOccurs="0" maxOccurs="unbounded">
                  <xs:complexType>
                    <xs:sequence>
                      <xs:element name="properties" minOccurs="0">
                        <xs:complexType><xs:sequence>
                          <xs:element name="property" minOccurs="0" maxOccurs="unbounded">
                            <xs:complexType>
                              <xs:attribute name="name" type="xs:string" use="required"/>
                              <xs:attribute name="value" type="xs:string" use="required"/>
                            </xs:complexType>
                          </xs:element>
                        </xs:sequence></xs:complexType>
                      </xs:element>
                      <xs:element name="testcase" minOccurs="0" maxOccurs="unbounded">
                        <xs:complexType>
                          <xs:sequence>
                            <xs:choice minOccurs="0">
                              <xs:element name="skipped">
                                <xs:complexType><xs:attribute name="message" type="xs:string"/></xs:complexType>
                              </xs:element>
                              <xs:element name="error" type="problem"/>
                              <xs:element name="failure" type="problem"/>
                            </xs:choice>
                            <xs:element name="system-out" type="xs:string" minOccurs="0"/>
                            <xs:element name="system-err" type="xs:string" minOccurs="0"/>
                          </xs:sequence>
                          <xs:attribute name="name" type="xs:string" use="required"/>
                          <xs:attribute name="classname" type="xs:string" use="required"/>
                          <xs:attribute name="time" type="seconds" use="required"/>
                        </xs:complexType>
                      </xs:element>
                      <xs:element name="system-out" type="xs:string" minOccurs="0"/>
                      <xs:element name="system-err" type="xs:string" minOccurs="0"/>
                    </xs:sequence>
                    <xs:attribute name="name" type="xs:string" use="required"/>
                    <xs:attribute name="id" type="count"/>
                    <xs:attribute name="tests" type="count" use="required"/>
                    <xs:attribute name="failures" type="count" use="required"/>
                    <xs:attribute name="errors" type="count" use="required"/>
                    <xs:attribute name="skipped" type="count"/>
                    <xs:attribute name="time" type="seconds" use="required"/>
                    <xs:attribute name="timestamp" type="timestamp" use="required"/>
                    <xs:attribute name="hostname" type="xs:string" use="required"/>
                  </xs:complexType>
                </xs:element>
              </xs:sequence>
              <xs:attribute name="name" type="xs:string"/>
              <xs:attribute name="tests" type="count"/>
              <xs:attribute name="failures" type="count"/>
              <xs:attribute name="errors" type="count"/>
              <xs:attribute name="skipped" type="count"/>
              <xs:attribute name="time" type="seconds"/>
            </xs:complexType>
          </xs:element>
        </xs:schema>
        """

    /// Validates the file with xmllint against the schema; the error text, or nil when valid.
    static func problems(in file: URL) throws -> String? {
        let schema = file.deletingLastPathComponent().appendingPathComponent("junit.xsd")
        try xsd.write(to: schema, atomically: true, encoding: .utf8)
        let out = file.deletingLastPathComponent().appendingPathComponent("xmllint.out")
        let fd = open(out.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(fd) }
        let process = try ChildProcess(
            "/usr/bin/xmllint", ["--noout", "--schema", schema.path, file.path],
            environment: ProcessInfo.processInfo.environment, stdin: nil, stdout: fd, stderr: fd)
        process.waitUntilExit()
        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        return process.terminationStatus == 0 ? nil : text
    }

    /// A temporary file for a report.
    static func reportFile() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mqttctl-junit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("report.xml")
    }
}
