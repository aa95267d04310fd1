/**
 * Every WeChat signature and wire format the product needs, as pure functions (issue 3).
 * The Pay v2 XML codec lives in `shared/pay/xml.ts` and is re-exported here so the whole
 * signing surface has one entry point.
 */
export { cardExtSignature, buildCardExt, type CardExtSignatureInput, type CardExtInput } from './card';
export { jsapiSignature, type JsapiSignatureInput } from './jsapi';
export { payV2Sign, type PayV2SignType, type PayV2Params } from './pay';
export {
  bizRedPacketParams,
  BIZ_RED_PACKET_PAY_SIGN_CASE,
  type BizRedPacketInput,
  type BizRedPacketParams,
  type BizRedPacketSignCase,
} from './red-packet';
export { pushSignature, verifyPushSignature, type PushSignatureInput, type VerifyPushSignatureInput } from './push';
export {
  encryptMessage,
  decryptMessage,
  decryptPushMessage,
  buildEncryptedReply,
  MAX_PUSH_MESSAGE_BYTES,
  type EncryptMessageInput,
  type DecryptMessageInput,
  type DecryptPushInput,
  type EncryptedReplyInput,
} from './message-crypto';
export {
  payV3SigningString,
  payV3Authorization,
  payV3MessageBytes,
  rsaSha256Sign,
  verifyPayV3Signature,
  decryptAeadAesGcm,
  encryptAeadAesGcm,
  encryptPayV3SensitiveField,
  decryptPayV3SensitiveField,
  PAY_V3_SIGNATURE_TYPE,
  PAY_V3_MAX_CLOCK_SKEW_SECONDS,
  PAY_V3_SIGNATURE_PROBE_PREFIX,
  type PayV3Key,
  type PayV3SigningStringInput,
  type PayV3AuthorizationInput,
  type PayV3SignedMessage,
  type PayV3Verification,
  type PayV3VerifyFailure,
  type AeadAesGcmInput,
} from './pay-v3';
export { createNonce, unixSeconds } from './nonce';
export { safeEqual } from './compare';
export {
  toPayXml,
  signedPayXml,
  parsePayXml,
  parsePayXmlWithLists,
  verifyPayReplySign,
  MAX_PAY_XML_CHARS,
  type PayXmlFields,
  type PayXmlDocument,
  type PayReplySignStatus,
} from '../pay/xml';
