// The labextension builder loads *.svg imported from code as a string (asset/source).
declare module '*.svg' {
  const svgstr: string;
  export default svgstr;
}
