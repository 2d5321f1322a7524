# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled twin of ``connectors.soap.decode.element_to_dict``: same output, walking libxml2 nodes directly.

Why: the pure-Python walker spends ~0.5 µs per element on lxml proxies, tag strings and bytecode — two thirds
of the SOAP fast path. Here the only Python objects made are the ones that end up in the dicts.

Keys are interned (see ``_key``). Text follows lxml's ``.text`` exactly: the leading run of text/CDATA child nodes
(XInclude markers skipped), concatenated, decoded as UTF-8; ``None`` when there is no such node.

Nodes other than elements (comments, PIs, entity references: the hardened parser produces none) are
skipped, both as entries and when deciding whether an element "has children".

No libxml2 function is called (lxml links libxml2 statically and does not share it): the only foreign calls
go through lxml's public C-API table (``import_lxml__etree``), so the module must run with the lxml version it
was built against (``BUILT_WITH_LXML``; ``connectors.soap.decode`` checks it before using this module).
"""

from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_AsUTF8, PyUnicode_DecodeUTF8, PyUnicode_GET_LENGTH, PyUnicode_READ_CHAR
from libc.stdint cimport uint64_t, uintptr_t
from libc.string cimport strcmp, strlen

from lxml.includes cimport tree
from lxml.includes.tree cimport const_xmlChar
from lxml.includes.etreepublic cimport _Element, attributeValue, attributeValueFromNsName, import_lxml__etree

cdef extern from "Python.h":
    int Py_EnterRecursiveCall(const char* where) except -1
    void Py_LeaveRecursiveCall()

cdef extern from *:
    const char* TONGBAN_LXML_VERSION  # defined by setup.py: the lxml this module was compiled against

BUILT_WITH_LXML = (<bytes>TONGBAN_LXML_VERSION).decode("ascii")

import_lxml__etree()

cdef const_xmlChar* _XSI = <const_xmlChar*>b"http://www.w3.org/2001/XMLSchema-instance"
cdef const_xmlChar* _NIL = <const_xmlChar*>b"nil"
cdef frozenset _NO_LISTS = frozenset()  # the empty Shape's fields
cdef enum:
    _N_UNREAD = 8
cdef const char* _UNREAD[_N_UNREAD]  # decode.UNREAD_ATTRIBUTE_NAMESPACES (a test holds the two equal)
_UNREAD[0] = b"http://www.w3.org/2001/XMLSchema-instance"
_UNREAD[1] = b"http://www.w3.org/XML/1998/namespace"
_UNREAD[2] = b"http://schemas.xmlsoap.org/soap/encoding/"
_UNREAD[3] = b"http://www.w3.org/2003/05/soap-encoding"
_UNREAD[4] = b"http://schemas.xmlsoap.org/soap/envelope/"
_UNREAD[5] = b"http://www.w3.org/2003/05/soap-envelope"
_UNREAD[6] = b"urn:schemas-microsoft-com:xml-diffgram-v1"
_UNREAD[7] = b"urn:schemas-microsoft-com:xml-msdata"
UNREAD_ATTRIBUTE_NAMESPACES = frozenset((<bytes>_UNREAD[i]).decode("ascii") for i in range(_N_UNREAD))
cdef dict _NO_KIDS = {}


# ---- keys: one str per distinct local name ---------------------------------------------------------------
#
# libxml2 keeps element names in a dictionary, so equal names usually share one pointer. A small
# direct-mapped table maps that pointer to its str; a hit is confirmed with strcmp (memory freed with one
# document may hold another name later). Misses go through a bytes -> str dict, so equal names give the
# same str object however libxml2 stores them (for the first 10,000 distinct names; later ones stay equal).

cdef enum:
    _SLOTS = 512            # a power of two
    _SLOT_SHIFT = 55        # 64 - log2(_SLOTS)
    _MAX_INTERNED = 10000   # like decode._LOCAL's bound

cdef struct _Slot:
    const_xmlChar* name   # the libxml2 name pointer last seen in this slot
    const char* utf8      # the key's own UTF-8 (owned by the key)
    PyObject* key         # a strong reference

cdef _Slot _slots[_SLOTS]
cdef dict _interned = {}


cdef inline str _key(const_xmlChar* c_name):
    cdef _Slot* slot = &_slots[(<uint64_t><uintptr_t>c_name * 0x9E3779B97F4A7C15ULL) >> _SLOT_SHIFT]
    if slot.name == c_name and strcmp(<const char*>c_name, slot.utf8) == 0:
        return <str><object>slot.key
    return _key_miss(c_name, slot)


cdef str _key_miss(const_xmlChar* c_name, _Slot* slot):
    raw = <bytes><const char*>c_name
    key = _interned.get(raw)
    if key is None:
        key = raw.decode("utf-8")
        if len(_interned) < _MAX_INTERNED:
            _interned[raw] = key
    cdef const char* utf8 = PyUnicode_AsUTF8(key)
    Py_INCREF(key)
    Py_XDECREF(slot.key)
    slot.key = <PyObject*>key
    slot.utf8 = utf8
    slot.name = c_name
    return key


# ---- node helpers ---------------------------------------------------------------------------------------

cdef inline tree.xmlNode* _text_node(tree.xmlNode* c_node) noexcept:
    """``c_node`` or the next node of the current text run (lxml's _textNodeOrSkip), else NULL."""
    while c_node is not NULL:
        if c_node.type == tree.XML_TEXT_NODE or c_node.type == tree.XML_CDATA_SECTION_NODE:
            return c_node
        if c_node.type != tree.XML_XINCLUDE_START and c_node.type != tree.XML_XINCLUDE_END:
            return NULL
        c_node = c_node.next
    return NULL


cdef inline object _utf8(const_xmlChar* s):
    if s is NULL:
        return ""
    return PyUnicode_DecodeUTF8(<const char*>s, strlen(<const char*>s), NULL)


cdef object _text(tree.xmlNode* c_element):
    """What lxml's ``element.text`` returns."""
    cdef tree.xmlNode* first = _text_node(c_element.children)
    if first is NULL:
        return None
    cdef tree.xmlNode* c_node = _text_node(first.next)
    if c_node is NULL:  # the common case: a single text node
        return _utf8(first.content)
    data = b""  # several (CDATA kept, XInclude markers): join the bytes, decode once, as lxml does
    c_node = first
    while c_node is not NULL:
        if c_node.content is not NULL:
            data += <bytes><const char*>c_node.content
        c_node = _text_node(c_node.next)
    return data.decode("utf-8")


cdef inline bint _has_elements(tree.xmlNode* c_node) noexcept:
    c_node = c_node.children
    while c_node is not NULL:
        if c_node.type == tree.XML_ELEMENT_NODE:
            return True
        c_node = c_node.next
    return False


cdef inline bint _is_nil(tree.xmlNode* c_node) except -1:
    """``child.get(XSI_NIL) in ("true", "1")`` (lxml's own attribute lookup)."""
    value = attributeValueFromNsName(c_node, _XSI, _NIL)
    return value is not None and (value == "true" or value == "1")


cdef inline bint _starts_with_space(str value) except -1:
    """``not value or value[0] in " \\t\\r\\n"`` for text that is not None: "" (an empty CDATA section) takes the
    branch that reads it as an empty value — its first character was read, and the IndexError failed the page."""
    if PyUnicode_GET_LENGTH(value) == 0:
        return True
    cdef Py_UCS4 ch = PyUnicode_READ_CHAR(value, 0)
    return ch == u" " or ch == u"\t" or ch == u"\r" or ch == u"\n"


cdef inline bint _unread(tree.xmlNs* c_ns) noexcept:
    """Whether an attribute in this namespace says how the XML is encoded (never read as a field)."""
    if c_ns is NULL or c_ns.href is NULL:
        return False
    cdef int i
    for i in range(_N_UNREAD):
        if strcmp(<const char*>c_ns.href, _UNREAD[i]) == 0:
            return True
    return False


cdef dict _attributes(tree.xmlNode* c_node, str prefix):
    """decode._attributes: ``{prefix + local name: value}`` of the element's attributes, in document order."""
    cdef dict out = {}
    cdef tree.xmlAttr* c_attr = c_node.properties
    while c_attr is not NULL:
        if c_attr.type == tree.XML_ATTRIBUTE_NODE and not _unread(c_attr.ns):
            _add(out, prefix + _key(c_attr.name), attributeValue(c_node, c_attr), False)
        c_attr = c_attr.next
    return out


cdef inline int _add(dict out, str name, object value, bint listed) except -1:
    """decode._add: a list when the schema says the name repeats, or when it turns out to."""
    cdef object bucket
    if listed:
        bucket = out.get(name)
        if bucket is None:
            out[name] = [value]
        else:
            (<list>bucket).append(value)
    elif name in out:  # repeated although the schema did not say so: keep every value
        bucket = out[name]
        if isinstance(bucket, list):
            (<list>bucket).append(value)
        else:
            out[name] = [bucket, value]
    else:
        out[name] = value
    return 0


# ---- the walk -------------------------------------------------------------------------------------------

cdef dict _to_dict(tree.xmlNode* c_parent, object lists, object kids):
    """decode.element_to_dict, line by line (the branches keep the Python version's order)."""
    cdef dict out = _attributes(c_parent, "@") if c_parent.properties is not NULL else {}
    cdef tree.xmlNode* c_child = c_parent.children
    cdef str name
    cdef object value, sub
    cdef bint listed
    cdef dict attributes
    cdef dict placed = None
    while c_child is not NULL:
        if c_child.type != tree.XML_ELEMENT_NODE:
            c_child = c_child.next
            continue
        name = _key(c_child.name)
        value = _text(c_child)
        if value is None or name in kids or _starts_with_space(value):
            sub = kids.get(name)
            if sub is not None:
                if _has_elements(c_child) or not _is_nil(c_child):
                    value = _nested(c_child, sub.lists, sub.children)  # no children: its lists empty, attributes
                else:
                    value = None
            elif value is None:
                if _has_elements(c_child):
                    value = _nested(c_child, _NO_LISTS, _NO_KIDS)
                elif _is_nil(c_child):
                    value = None
                else:
                    value = ""
            elif _has_elements(c_child):  # text starting with whitespace: a pretty-printed container
                value = _nested(c_child, _NO_LISTS, _NO_KIDS)
        listed = name in lists
        _add(out, name, value, listed)
        if c_child.properties is not NULL and type(value) is str:  # a leaf (text, or empty): name@attr beside it
            attributes = _attributes(c_child, name + "@")
            for key, attribute in attributes.items():
                _add(out, key, attribute, listed)
            if attributes:
                held = out[name]
                if placed is None:
                    placed = {}
                placed.setdefault(name, []).append((len(held) - 1 if type(held) is list else 0, attributes))
        c_child = c_child.next
    if placed is not None:
        _align_attributes(out, placed)
    for name in lists:
        if name not in out:
            out[name] = []
    return out


cdef int _align_attributes(dict out, dict placed) except -1:
    """decode.align_attributes: a repeated leaf's ``name@attr`` list lines up with its values (None where an
    item carries no such attribute)."""
    cdef list column
    for name, entries in placed.items():
        held = out[name]
        if type(held) is not list:
            continue
        keys = {}  # every attribute name of the leaf, in the order first seen
        for _, attributes in entries:
            for key in attributes:
                keys[key] = None
        for key in keys:
            column = [None] * len(held)
            for position, attributes in entries:
                if key in attributes:
                    column[position] = attributes[key]
            out[key] = column
    return 0


cdef dict _nested(tree.xmlNode* c_node, object lists, object kids):
    """A recursion step, bounded like Python's own (RecursionError rather than a C stack overflow)."""
    Py_EnterRecursiveCall(" while converting an element to a dict")
    try:
        return _to_dict(c_node, lists, kids)
    finally:
        Py_LeaveRecursiveCall()


def element_to_dict(_Element element not None, shape=None):
    """One element's children as a dict: ``decode.element_to_dict(element, shape)``; ``None`` = empty Shape."""
    if element._c_node is NULL:
        raise ValueError("invalid Element proxy")
    if shape is None:
        return _to_dict(element._c_node, _NO_LISTS, _NO_KIDS)
    return _to_dict(element._c_node, shape.lists, shape.children)
