module.exports = {
  AUTHENTICATION_FAILED: {
    code: 400,
