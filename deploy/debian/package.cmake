# The Debian package: cmake --build build --target package (CPack's DEB generator). Included
# from the top-level CMakeLists.txt after every install() rule.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME oracled)
set(CPACK_PACKAGE_VENDOR "the oracled authors")
set(CPACK_PACKAGE_CONTACT "oracled maintainers <oracled@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "commit-wait timestamp oracle with a chrony error bound")
set(CPACK_PACKAGE_DESCRIPTION
    "oracled hands out strictly increasing timestamps over TCP and, on request, holds each reply
until the timestamp is certainly in the past (commit-wait), from an error bound computed from
chrony. Includes oracle-cli, clockbound, liboracle-client and its header, the systemd unit and
the operator's files (chrony, Prometheus, CloudFormation).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from dpkg-shlibdeps; chrony is what the bound comes from.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "chrony")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/conffiles ${CMAKE_CURRENT_LIST_DIR}/postinst
    ${CMAKE_CURRENT_LIST_DIR}/prerm ${CMAKE_CURRENT_LIST_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
